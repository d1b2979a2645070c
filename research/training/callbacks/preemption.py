"""A SIGTERM (what a cluster scheduler sends before it preempts or cancels a job) ends the run
after the current training batch, with a checkpoint of that state: the resumed run
(`ckpt_path=last`) loses nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from research.training.signals import RunInterrupted, hold_sigterm, release_sigterm


class CheckpointOnSigterm(pl.Callback):
    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_batch_start(self, *args: Any) -> None:
        hold_sigterm()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        signum = release_sigterm()
        if signum is not None:
            trainer.save_checkpoint(self.path)
            raise RunInterrupted(signum)
