"""The LightningModule: any model with any optimizer factory, minimising cross-entropy for
classifiers and language models, or the model's own output for a problem's objective.

Metrics are summed on the device and logged every `log_every_n_steps` steps, never with a
per-step host sync, so the framework stays close to a bare training loop.
"""

from __future__ import annotations

import inspect
import random
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]
Batch = tuple[torch.Tensor, torch.Tensor]

# Epoch metrics are summed across ranks before they are logged (exact under DDP), so
# Lightning's advice to average them again with `sync_dist=True` does not apply.
warnings.filterwarnings("ignore", message=r".*sync_dist=True.*when logging on epoch level")


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(f"training loss is {loss} at step {step}")
        self.step = step
        self.loss = loss


class RunPruned(RuntimeError):
    """A sweeper's pruner stopped this run early; raised from a callback, recorded as `pruned`."""


class RunningSums:
    """Loss and accuracy sums over a stretch of batches, kept as device tensors."""

    def __init__(self) -> None:
        self.loss = torch.zeros(())
        self.correct = torch.zeros((), dtype=torch.long)
        self.count = torch.zeros((), dtype=torch.long)

    def add(self, loss_sum: torch.Tensor, correct: torch.Tensor | None, count: int) -> None:
        if self.loss.device != loss_sum.device:
            self.loss, self.correct, self.count = (
                t.to(loss_sum.device) for t in (self.loss, self.correct, self.count)
            )
        self.loss = self.loss + loss_sum.detach()
        if correct is not None:
            self.correct = self.correct + correct
        self.count = self.count + count

    def means(self, reduce: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, ...]:
        loss, correct, count = (reduce(t.float()) for t in (self.loss, self.correct, self.count))
        return loss / count, correct / count


class SupervisedModule(pl.LightningModule):
    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        check_finite_every_n_steps: int = 1,
    ) -> None:
        super().__init__()
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.check_finite_every_n_steps = check_finite_every_n_steps
        self.objective = net.spec.task == "objective"
        self._window_loss = torch.zeros(())
        self._window_steps = 0
        self._epoch = RunningSums()
        self._eval = RunningSums()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _loss_sums(
        self, batch: Batch
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, int]:
        inputs, targets = batch
        if self.objective:
            losses = self.net(inputs)
            return losses.mean(), losses.detach().sum(), None, losses.numel()
        logits = self.net(inputs)
        flat_logits, flat_targets = logits.flatten(0, -2), targets.flatten()
        loss = nn.functional.cross_entropy(flat_logits, flat_targets)
        correct = (flat_logits.argmax(-1) == flat_targets).sum()
        return loss, loss.detach() * flat_targets.numel(), correct, flat_targets.numel()

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, loss_sum, correct, count = self._loss_sums(batch)
        self._epoch.add(loss_sum, correct, count)
        self._window_loss = self._window_loss.to(loss.device) + loss.detach()
        self._window_steps += 1
        step = self.global_step + 1
        if step % self.check_finite_every_n_steps == 0 and not torch.isfinite(loss):
            raise DivergedError(step, float(loss.detach()))
        if step % self.trainer.log_every_n_steps == 0:
            self.log("train/loss", self._window_loss / self._window_steps)
            self._window_loss = torch.zeros((), device=loss.device)
            self._window_steps = 0
        if batch_idx + 1 == self.trainer.num_training_batches:
            self._log_sums("train", self._epoch, loss_name="train/loss_epoch")
            self._epoch = RunningSums()
        return loss

    def _log_sums(self, stage: str, sums: RunningSums, loss_name: str | None = None) -> None:
        """Log already-reduced epoch metrics; `on_epoch` makes Lightning write them once, at
        the end of the epoch, whatever `log_every_n_steps` is."""
        loss, acc = sums.means(lambda t: self.trainer.strategy.reduce(t, reduce_op="sum"))
        self.log(loss_name or f"{stage}/loss", loss, on_step=False, on_epoch=True)
        if not self.objective:
            self.log(f"{stage}/acc", acc, on_step=False, on_epoch=True)

    def _eval_step(self, batch: Batch) -> None:
        _, loss_sum, correct, count = self._loss_sums(batch)
        self._eval.add(loss_sum, correct, count)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_train_batch_end(self, outputs: Any, batch: Batch, batch_idx: int) -> None:
        self.net.project_()

    def on_validation_epoch_end(self) -> None:
        self._log_sums("val", self._eval)
        self._eval = RunningSums()
        for name, value in self.net.metrics().items():
            self.log(f"val/{name}", value, on_step=False, on_epoch=True)

    def on_test_epoch_end(self) -> None:
        self._log_sums("test", self._eval)
        self._eval = RunningSums()

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        kwargs = {}
        if "total_steps" in inspect.signature(self.scheduler_factory).parameters:
            kwargs["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(optimizer, **kwargs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Lightning does not keep random state; a resumed run needs it to continue identically.
        checkpoint["rng"] = {"torch": torch.get_rng_state(), "python": random.getstate()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "rng" in checkpoint:
            torch.set_rng_state(checkpoint["rng"]["torch"])
            random.setstate(checkpoint["rng"]["python"])
