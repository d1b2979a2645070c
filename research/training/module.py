"""The LightningModule: any model with any optimizer factory, minimising cross-entropy for
classifiers and language models, or the model's own output for a problem's objective.

Metrics are summed on the device and the training loss is logged every `log_every_n_steps`
steps, so the framework stays close to a bare training loop. For the same reason training
is manual: each Lightning batch is a chunk of consecutive mini-batches
(`research.data.loader.StepChunks`), one optimizer step each, so Lightning's per-batch
bookkeeping (~0.7 ms on a small CPU) is paid once per chunk. The chunk size changes no
result, no logged value and no step count.
"""

from __future__ import annotations

import inspect
import math
import random
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.states import TrainerFn
from torch import nn

from research.data.loader import Batch
from research.training.chunked_steps import (
    adopt_automatic_step_count,
    estimated_optimizer_steps,
    lightning_adds_nothing_per_step,
)
from research.training.metric_sums import RunningSums, StepTerms, Window
from research.training.optimizer_modes import OptimizerModes, takes_module

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]

# Epoch metrics are summed across ranks before they are logged (exact under DDP), so
# Lightning's advice to average them again with `sync_dist=True` does not apply.
warnings.filterwarnings("ignore", message=r".*sync_dist=True.*when logging on epoch level")
# Lightning compares its batches per epoch with `log_every_n_steps`; the training loss is
# logged every that many optimizer steps, across epochs, however many a batch holds.
warnings.filterwarnings("ignore", message=r".*is smaller than the logging interval")


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite, or blew up past its bound."""

    def __init__(self, step: int, loss: float, bound: float | None = None) -> None:
        above = "" if bound is None else f", above the divergence bound {bound:.4g}"
        super().__init__(f"training loss is {loss:.6g} at step {step}{above}")
        self.step = step
        self.loss = loss


def divergence_bound(first_loss: float, factor: float | None) -> float:
    """A loss `factor` times the first step's (at least 1 in size) is a blow-up, not training:
    SGD at too large a rate reaches 1e24 on the noisy quadratic without ever being NaN."""
    return math.inf if factor is None else factor * max(abs(first_loss), 1.0)


class RunPruned(RuntimeError):
    """A sweeper's pruner stopped this run early; raised from a callback, recorded as `pruned`."""


class SupervisedModule(pl.LightningModule):
    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        check_finite_every_n_steps: int = 1,
        divergence_factor: float | None = None,
        gradient_clip_val: float | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.check_finite_every_n_steps = check_finite_every_n_steps
        self.divergence_factor = divergence_factor
        self.first_loss: float | None = None  # the bound's reference, kept in checkpoints
        # losses of the steps since the last check: read back to the host in one transfer
        # every `check_finite_every_n_steps` steps, so the device never waits in between
        self._unchecked: list[torch.Tensor] = []
        # Lightning refuses `Trainer(gradient_clip_val=...)` with manual optimization.
        self.gradient_clip_val = gradient_clip_val
        self.objective = net.spec.task == "objective"
        self._window = Window()
        self.last_logged_loss: float | None = None  # what the progress bar shows
        self._lean = False
        self._epoch = RunningSums()
        self._eval = RunningSums()
        self._modes = OptimizerModes()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _loss_terms(self, batch: Batch) -> tuple[torch.Tensor, StepTerms]:
        inputs, targets = batch
        if self.objective:
            losses = self.net(inputs)
            loss = losses.mean()
            return loss, StepTerms(loss.detach(), losses.numel(), terms=losses.detach())
        logits = self.net(inputs)
        flat_logits, flat_targets = logits.flatten(0, -2), targets.flatten()
        loss = nn.functional.cross_entropy(flat_logits, flat_targets)
        preds = flat_logits.argmax(-1)
        return loss, StepTerms(loss.detach(), flat_targets.numel(), preds, flat_targets)

    def on_train_start(self) -> None:
        self._lean = lightning_adds_nothing_per_step(self.trainer)

    def training_step(self, batches: Sequence[Batch], batch_idx: int) -> None:
        trainer = self.trainer
        self._modes.train(trainer.optimizers, self.parameters)  # back from x, if any
        first = self.global_step
        left = trainer.max_steps - first if trainer.max_steps >= 0 else len(batches)
        steps = min(len(batches), left)
        # the epoch's or the run's last step reads whatever is left unchecked
        ends = batch_idx + 1 == trainer.num_training_batches or first + steps == trainer.max_steps
        last_to_check = first + steps if ends else None
        optimizer_step = self._optimizer_step_fn()
        taken: list[StepTerms] = []
        try:
            for step, batch in enumerate(batches[:steps], start=first + 1):
                loss, terms = self._loss_terms(batch)
                self._unchecked.append(terms.loss)
                if step % self.check_finite_every_n_steps == 0 or step == last_to_check:
                    self._check_losses(step)
                optimizer_step(loss)
                taken.append(terms)
        finally:
            self._sum_steps(first, taken)
        # Lightning counts one logging step per batch; counting optimizer steps instead keeps
        # every logged row at the step it has with one mini-batch per Lightning batch.
        trainer.fit_loop.epoch_loop._batches_that_stepped += steps - 1
        if steps < len(batches):
            # max_steps ended the run before this chunk's last mini-batch: Lightning would
            # validate here only after an epoch's last mini-batch
            trainer.fit_loop.epoch_loop._skip_next_val = True
        if steps == len(batches) and batch_idx + 1 == trainer.num_training_batches:
            self._log_train_epoch()

    def _check_losses(self, step: int) -> None:
        """Check the losses of the steps up to `step` not checked yet, read in one transfer."""
        pending, self._unchecked = self._unchecked, []
        if len(pending) == 1:
            values = [pending[0].item()]
        else:  # a resumed run's pending losses come back on the CPU
            values = torch.stack([loss.to(pending[-1].device) for loss in pending]).tolist()
        for offset, value in enumerate(values):
            self._check_loss(step - len(values) + 1 + offset, value)

    def _check_loss(self, step: int, value: float) -> None:
        if not math.isfinite(value):
            raise DivergedError(step, value)
        if self.first_loss is None:
            self.first_loss = value
        bound = divergence_bound(self.first_loss, self.divergence_factor)
        if value > bound:
            raise DivergedError(step, value, bound)

    def _optimizer_step_fn(self) -> Callable[[torch.Tensor], None]:
        """One optimizer step from a loss: backward, clip, step, schedule, project."""
        optimizer = self.optimizers()
        torch_optimizer = optimizer.optimizer
        scheduler = self.lr_schedulers()
        project = self.net.project_
        lean = self._lean

        def optimizer_step(loss: torch.Tensor) -> None:
            if lean:  # what the calls below come to, without their per-step dispatch
                torch_optimizer.zero_grad()
                loss.backward()
                self._clip(torch_optimizer)
                optimizer._on_before_step()  # Lightning's step count, as its `step` does
                torch_optimizer.step()
                optimizer._on_after_step()
            else:
                optimizer.zero_grad()
                self.manual_backward(loss)
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            project()

        return optimizer_step

    def _sum_steps(self, first: int, taken: Sequence[StepTerms]) -> None:
        """Add the steps after step `first` to the epoch sums and the loss window, writing
        the window at every `log_every_n_steps`-th step."""
        if not taken:
            return
        self._epoch.add(taken)
        losses = torch.stack([terms.loss for terms in taken])
        log_every = self.trainer.log_every_n_steps
        start = 0
        for step in range(first + log_every - first % log_every, first + len(taken) + 1, log_every):
            self._window.add(losses[start : step - first])
            self._log_window(step)
            start = step - first
        if start < len(taken):
            self._window.add(losses[start:])

    def _log_window(self, step: int) -> None:
        """Write the mean loss of the last steps: the row Lightning's per-batch flush wrote at
        this step. The loggers write their rows on their own schedule (CSV: every
        `flush_logs_every_n_steps`), before every checkpoint and at the end, not each row."""
        self.last_logged_loss = self._window.pop()
        self._write_row({"train/loss": self.last_logged_loss}, step)

    def _log_train_epoch(self) -> None:
        """Write the epoch's training loss and accuracy at the step and in the row where
        Lightning's epoch-end flush would, and hand them to the callbacks; without `self.log`,
        which costs ~0.35 ms a value (2-3% of a small model's 40-step epoch)."""
        loss, acc = self._epoch.means(self._sum_across_ranks)
        self._epoch = RunningSums()
        metrics = {"train/loss_epoch": loss} | ({} if self.objective else {"train/acc": acc})
        self._publish_epoch_metrics(metrics)

    def _publish_epoch_metrics(self, metrics: dict[str, torch.Tensor]) -> None:
        """What `self.log(..., on_epoch=True)` comes to: the values in `callback_metrics` and
        one row for the loggers, at the step and in the row Lightning would write."""
        self.trainer.callback_metrics.update(metrics)
        row = {name: float(value) for name, value in metrics.items()}
        self._write_row(row, self.global_step)

    def _write_row(self, metrics: dict[str, float], step: int) -> None:
        """One row for every logger at optimizer step `step`, numbered as Lightning numbers
        its rows (the step in progress, `step - 1`)."""
        row = {**metrics, "epoch": self.current_epoch}
        for logger in self.trainer.loggers:
            logger.log_metrics(row, step=step - 1)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        self._clip(optimizer)  # where Lightning clips: after the callbacks' hooks

    def _clip(self, optimizer: torch.optim.Optimizer) -> None:
        if self.gradient_clip_val:
            self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val)

    def on_validation_model_eval(self) -> None:
        super().on_validation_model_eval()
        self._modes.eval(self.trainer.optimizers)

    def on_test_model_eval(self) -> None:
        super().on_test_model_eval()
        self._modes.eval(self.trainer.optimizers)

    def on_train_end(self) -> None:
        self._modes.eval(self.trainer.optimizers)  # the final model is the evaluation point

    def _eval_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        """The evaluation's metrics, already reduced across ranks; starts the next one's sums."""
        loss, acc = self._eval.means(self._sum_across_ranks)
        self._eval = RunningSums()
        return {f"{stage}/loss": loss} | ({} if self.objective else {f"{stage}/acc": acc})

    def _log_epoch_metrics(self, metrics: dict[str, torch.Tensor]) -> None:
        """`on_epoch` makes Lightning write them once, at the end of the evaluation."""
        for name, value in metrics.items():
            self.log(name, value, on_step=False, on_epoch=True)

    def _sum_across_ranks(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.trainer.strategy.reduce(tensor, reduce_op="sum")

    def _eval_step(self, batch: Batch) -> None:
        self._eval.add([self._loss_terms(batch)[1]])

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_validation_epoch_end(self) -> None:
        metrics = self._eval_metrics("val")
        metrics |= {f"val/{name}": value for name, value in self.net.metrics().items()}
        trainer = self.trainer
        if trainer.state.fn != TrainerFn.FITTING:
            self._log_epoch_metrics(metrics)
        elif not trainer.sanity_checking:  # whose metrics Lightning discards
            # the two values' `self.log` calls cost more than a small model's validation pass
            self._publish_epoch_metrics(metrics)

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics(self._eval_metrics("test"))

    def configure_optimizers(self) -> Any:
        params = self.net if takes_module(self.optimizer_factory) else self.parameters()
        optimizer = self.optimizer_factory(params)
        if self.scheduler_factory is None:
            return optimizer
        kwargs = {}
        if "total_steps" in inspect.signature(self.scheduler_factory).parameters:
            kwargs["total_steps"] = int(estimated_optimizer_steps(self.trainer))
        scheduler = self.scheduler_factory(optimizer, **kwargs)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # every row logged so far is written before the checkpoint exists: a run killed after
        # it and resumed from it redoes the later rows and lacks none of the earlier ones
        for logger in self.trainer.loggers:
            logger.save()
        # Lightning does not keep random state; a resumed run needs it to continue identically.
        checkpoint["rng"] = {"torch": torch.get_rng_state(), "python": random.getstate()}
        # a mid-epoch (SIGTERM) checkpoint: the epoch's sums and the loss window go on
        checkpoint["metric_sums"] = {
            "epoch": self._epoch.state_dict(),
            "window": self._window.state_dict(),
        }
        checkpoint["first_loss"] = self.first_loss
        checkpoint["unchecked_losses"] = [loss.cpu() for loss in self._unchecked]
        # an optimizer with an evaluation point (Schedule-Free): the checkpoint holds it
        trainer = self.trainer
        self._modes.save(checkpoint, trainer.strategy, trainer.optimizers, list(self.parameters()))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "rng" in checkpoint:
            torch.set_rng_state(checkpoint["rng"]["torch"])
            random.setstate(checkpoint["rng"]["python"])
        self._modes.load(checkpoint)
        self.first_loss = checkpoint.get("first_loss")
        self._unchecked = list(checkpoint.get("unchecked_losses", []))
        if "metric_sums" in checkpoint:
            self._epoch.load_state_dict(checkpoint["metric_sums"]["epoch"])
            self._window.load_state_dict(checkpoint["metric_sums"]["window"])
        adopt_automatic_step_count(checkpoint)
