"""`checkpoints/last.ckpt`, the state a resumed run (`ckpt_path=last`) continues from.

Written on a wall-clock interval rather than at every epoch end: a small model's epoch can
take less time than writing its checkpoint, and a per-epoch write then dominates the run.
It is also written at the end of training, and on SIGTERM (`callbacks.preemption`); a
checkpoint taken in the middle of an epoch resumes exactly (`StepChunks.skip_first`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from research.training.callbacks.preemption import is_last_batch


class LastCheckpoint(pl.Callback):
    """Saves at the first batch or epoch end `every_s` seconds after the last save (0: at
    every one), and when training ends."""

    def __init__(self, dirpath: str, every_s: float = 60.0) -> None:
        if every_s < 0:
            raise ValueError(f"every_s={every_s} must be >= 0")
        self.path = Path(dirpath) / "last.ckpt"
        self.every_s = every_s
        self._saved_at = time.monotonic()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._saved_at = time.monotonic()

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: pl.LightningModule, out: Any, batch: Any, idx: int
    ) -> None:
        if not is_last_batch(trainer, idx):  # the epoch end saves, after validation
            self._save_if_due(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save_if_due(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)

    def _save_if_due(self, trainer: pl.Trainer) -> None:
        if time.monotonic() - self._saved_at >= self.every_s:
            self._save(trainer)

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.sanity_checking:
            return
        trainer.save_checkpoint(self.path, weights_only=False)
        self._saved_at = time.monotonic()
