"""SIGTERM (what a cluster scheduler sends before it preempts or cancels a job) and Ctrl-C end
the run after the current training batch, with a checkpoint of that state: the resumed run
(`ckpt_path=last`) loses nothing. After an epoch's last batch it waits for the epoch's
validation, so that the checkpoint holds a whole epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from research.training.signals import RunInterrupted, hold_signals, release_signals


def is_last_batch(trainer: pl.Trainer, batch_idx: int) -> bool:
    return batch_idx + 1 >= trainer.num_training_batches


class CheckpointOnSigterm(pl.Callback):
    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_batch_start(self, *args: Any) -> None:
        hold_signals()

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: pl.LightningModule, out: Any, batch: Any, idx: int
    ) -> None:
        if not is_last_batch(trainer, idx):
            self._stop_if_asked(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop_if_asked(trainer)

    def _stop_if_asked(self, trainer: pl.Trainer) -> None:
        signum = release_signals()
        if signum is not None:
            trainer.save_checkpoint(self.path, weights_only=False)
            raise RunInterrupted(signum)
