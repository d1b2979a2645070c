"""The training progress bar in optimizer steps: a Lightning batch may hold several
(`research.data.loader.StepChunks`), and a bar counting batches would move once per chunk.
It shows what people watch while training (the training loss, the last val/acc) and leaves
out the nested validation and test bars, which last a fraction of a second.

It is drawn at most every `min_interval_s` (tqdm's own `mininterval`, which Lightning's
explicit redraws bypass): a small model's epoch can take 30 ms, and drawing the bar three
times an epoch then costs ~2% of training, for redraws no one can read."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.callbacks.progress.tqdm_progress import Tqdm, convert_inf
from pytorch_lightning.trainer.states import TrainerFn

from research.training.chunked_steps import steps_per_epoch


class ThrottledTqdm(Tqdm):
    """A bar redrawn at most every `min_interval_s`; closing it draws its last state."""

    def __init__(self, *args: Any, min_interval_s: float, **kwargs: Any) -> None:
        self.min_interval_s = min_interval_s
        self._drawn_at = -float("inf")
        super().__init__(*args, **kwargs)

    def due(self) -> bool:
        return time.monotonic() - self._drawn_at >= self.min_interval_s

    def refresh(self, *args: Any, **kwargs: Any) -> bool:
        if not self.due():
            return False
        self._drawn_at = time.monotonic()
        return super().refresh(*args, **kwargs)


class StepProgressBar(TQDMProgressBar):
    """Lightning's TQDM bar, counting optimizer steps, refreshed every `refresh_rate` steps
    and at most every `min_interval_s` seconds."""

    def __init__(self, *args: Any, min_interval_s: float = 0.1, **kwargs: Any) -> None:
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s={min_interval_s} must be >= 0")
        super().__init__(*args, **kwargs)
        self.min_interval_s = min_interval_s

    def init_train_tqdm(self) -> Tqdm:
        return ThrottledTqdm(
            desc=self.train_description,
            position=2 * self.process_position,
            disable=self.is_disabled,
            leave=True,
            dynamic_ncols=True,
            file=sys.stdout,
            smoothing=0,
            bar_format=self.BAR_FORMAT,
            min_interval_s=self.min_interval_s,
        )

    @property
    def total_train_batches(self) -> int | float:
        trainer = self.trainer
        total = steps_per_epoch(trainer)
        if trainer.max_epochs == -1 and trainer.max_steps > 0:
            return min(total, trainer.max_steps - trainer.global_step)
        return total

    def get_metrics(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule
    ) -> dict[str, int | str | float | dict[str, float]]:
        """The last logged training loss and the last validation metrics, not Lightning's
        `v_num` (a logger version nobody looks up). Where an epoch is shorter than
        `log_every_n_steps`, the loss is the last epoch's mean: a window of steps may not have
        been logged yet, or be older than that epoch."""
        shown: dict[str, int | str | float | dict[str, float]] = {}
        loss = getattr(pl_module, "last_logged_loss", None)
        epoch_loss = trainer.callback_metrics.get("train/loss_epoch")
        short = loss is None or steps_per_epoch(trainer) < trainer.log_every_n_steps
        if short and epoch_loss is not None:
            loss = epoch_loss.item()
        if loss is not None:
            shown["loss"] = f"{loss:.4g}"
        for name in ("val/loss", "val/acc"):
            if name in trainer.callback_metrics:
                shown[name] = f"{trainer.callback_metrics[name].item():.4g}"
        return shown

    def init_validation_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def init_test_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def on_train_start(self, trainer: pl.Trainer, *args: Any) -> None:
        super().on_train_start(trainer, *args)
        # a run resumed mid-epoch gets no epoch start: its epoch began before the checkpoint
        done = getattr(trainer.datamodule, "resume_within_epoch", 0) if trainer.datamodule else 0
        self._first_step = trainer.global_step - done
        if done:
            self._start_epoch_bar(trainer)
            self.train_progress_bar.n = done

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if self._leave:
            self.train_progress_bar = self.init_train_tqdm()
        self._start_epoch_bar(trainer)
        self._first_step = trainer.global_step

    def _start_epoch_bar(self, trainer: pl.Trainer) -> None:
        """Lightning's new-epoch bar, drawn at most once (Lightning draws it twice)."""
        bar = self.train_progress_bar
        bar.set_description(f"Epoch {trainer.current_epoch}", refresh=False)
        bar.initial = 0
        bar.reset(total=convert_inf(self.total_train_batches))

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any
    ) -> None:
        """Redrawn every `refresh_rate` steps; an epoch's last step is drawn at its end, with
        the validation that follows it (Lightning draws the same bar three times there)."""
        if not self.is_enabled:
            return
        bar = self.train_progress_bar
        n = trainer.global_step - self._first_step
        crossed = n // self.refresh_rate > bar.n // self.refresh_rate
        if not bar.disable and (crossed or n == bar.total):
            bar.n = n
            self._show_metrics(trainer, pl_module, refresh=n != bar.total)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.val_progress_bar.close()
        self.reset_dataloader_idx_tracker()
        if self._train_progress_bar is None or trainer.state.fn != TrainerFn.FITTING:
            return
        bar = self.train_progress_bar
        self._show_metrics(trainer, pl_module, refresh=bar.n != bar.total)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._show_metrics(trainer, pl_module, refresh=True)
        if self._leave:
            self.train_progress_bar.close()

    def _show_metrics(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, refresh: bool
    ) -> None:
        """The latest metrics on the bar, read only when the bar may be drawn now."""
        bar = self.train_progress_bar
        if not bar.disable and bar.due():
            bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=refresh)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The bar ends on the run's last step and metrics, whenever it was last drawn."""
        bar = self.train_progress_bar
        if not bar.disable:
            bar.n = trainer.global_step - self._first_step
            bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)
        bar.close()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        """A stopped run's bar ends its line now, before the line that says why it stopped."""
        if self._train_progress_bar is not None:
            self._train_progress_bar.close()
