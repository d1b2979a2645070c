"""The training progress bar in optimizer steps: a Lightning batch may hold several
(`research.data.loader.StepChunks`), and a bar counting batches would move once per chunk."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import TQDMProgressBar

from research.training.chunked_steps import steps_per_epoch


class StepProgressBar(TQDMProgressBar):
    """Lightning's TQDM bar, counting optimizer steps and refreshed every `refresh_rate` steps."""

    @property
    def total_train_batches(self) -> int | float:
        trainer = self.trainer
        total = steps_per_epoch(trainer)
        if trainer.max_epochs == -1 and trainer.max_steps > 0:
            return min(total, trainer.max_steps - trainer.global_step)
        return total

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        self._first_step = trainer.global_step

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any
    ) -> None:
        if not self.is_enabled:
            return
        bar = self.train_progress_bar
        n = trainer.global_step - self._first_step
        crossed = n // self.refresh_rate > bar.n // self.refresh_rate
        if not bar.disable and (crossed or n == bar.total):
            bar.n = n
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # and redraws, once
