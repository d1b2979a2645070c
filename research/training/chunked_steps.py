"""What Lightning needs to be told when one of its batches holds several optimizer steps
(`research.data.loader.StepChunks`, trained manually by `SupervisedModule`): it counts
batches where the run counts steps."""

from __future__ import annotations

import copy
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.plugins import MixedPrecision, Precision
from pytorch_lightning.strategies import SingleDeviceStrategy

from research.data.loader import StepChunks

PER_STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def lightning_adds_nothing_per_step(trainer: pl.Trainer) -> bool:
    """Whether Lightning's backward and optimizer-step wrappers would only call torch's: one
    device, no loss scaling, no callback listening to a per-step hook."""
    precision = trainer.precision_plugin
    if type(trainer.strategy) is not SingleDeviceStrategy:
        return False
    if type(precision) not in (Precision, MixedPrecision) or getattr(precision, "scaler", None):
        return False
    return not any(
        getattr(type(callback), hook) is not getattr(pl.Callback, hook)
        for callback in trainer.callbacks
        for hook in PER_STEP_HOOKS
    )


def steps_per_epoch(trainer: pl.Trainer) -> int | float:
    """`trainer.num_training_batches` in optimizer steps."""
    loader = trainer.train_dataloader
    if isinstance(loader, StepChunks) and loader.steps > 1:
        return len(loader.loader)  # chunks only when all of an epoch's batches are used
    return trainer.num_training_batches


def estimated_optimizer_steps(trainer: pl.Trainer) -> int | float:
    """`trainer.estimated_stepping_batches` in optimizer steps."""
    estimate = trainer.estimated_stepping_batches  # also loads the data
    if trainer.max_epochs == -1 or estimate == float("inf"):
        return estimate
    steps = steps_per_epoch(trainer) * max(trainer.max_epochs or 1, 1)
    return min(steps, trainer.max_steps) if trainer.max_steps != -1 else steps


def adopt_automatic_step_count(checkpoint: dict[str, Any]) -> None:
    """Resume a checkpoint written while training used Lightning's automatic optimization
    at its global step: that count is kept apart from the manual one read now."""
    loop = checkpoint.get("loops", {}).get("fit_loop", {})
    automatic = loop.get("epoch_loop.automatic_optimization.optim_progress")
    manual = "epoch_loop.manual_optimization.optim_step_progress"
    if automatic and manual in loop and not loop[manual]["total"]["completed"]:
        loop[manual] = copy.deepcopy(automatic["optimizer"]["step"])
