"""Optimizers the training loop treats specially, recognised by what they declare.

- An optimizer with `train()` and `eval()` methods (Schedule-Free's, the project's and the
  `schedulefree` package's alike) keeps its parameters at a training point while stepping
  and has another point to evaluate. Lightning has no hook for this (Lightning issue 20441);
  `OptimizerModes` calls `eval()` before validation, testing, checkpoints and at the end of
  training, and `train()` before the next optimizer step. A checkpoint holds the evaluation
  point; one saved mid-training (a SIGTERM checkpoint, or one without validation before it)
  also holds the exact training point, which training goes on from, in this run and in a
  resumed one (eval() then train() would round it).
- An optimizer class with `accepts_module = True` (Muon) is given the network itself, to route
  its parameters by their role in it (`research.optim.routing`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


def has_modes(optimizer: Any) -> bool:
    return callable(getattr(optimizer, "train", None)) and callable(
        getattr(optimizer, "eval", None)
    )


def set_mode(optimizers: Iterable[torch.optim.Optimizer], train: bool) -> bool:
    """Put every optimizer that has modes in train or eval mode; True if there was one."""
    found = False
    for optimizer in optimizers:
        if has_modes(optimizer):
            optimizer.train() if train else optimizer.eval()
            found = True
    return found


def takes_module(factory: Callable[..., Any]) -> bool:
    """Whether an optimizer factory (a class, or a functools.partial of one) wants the network."""
    target = getattr(factory, "func", factory)
    return bool(getattr(target, "accepts_module", False))


class OptimizerModes:
    """Puts the optimizers that have modes where the loop needs their parameters."""

    def __init__(self) -> None:
        self.training = False  # whether the parameters are at the training point now
        self.pending: list[torch.Tensor] | None = None  # a checkpoint's exact training point

    def train(
        self, optimizers: list[torch.optim.Optimizer], params: Callable[[], Iterable[torch.Tensor]]
    ) -> None:
        if not set_mode(optimizers, train=True):
            return
        if self.pending is not None:
            _assign(list(params()), self.pending)
            self.pending = None
        self.training = True

    def eval(self, optimizers: list[torch.optim.Optimizer]) -> None:
        if set_mode(optimizers, train=False):
            self.training = False

    def save(
        self,
        checkpoint: dict[str, Any],
        strategy: Any,
        optimizers: list[torch.optim.Optimizer],
        params: list[torch.Tensor],
    ) -> None:
        """Write the evaluation point into `checkpoint` (and the training point, if that is
        where training stands), leaving the parameters where they were."""
        if not any(has_modes(optimizer) for optimizer in optimizers):
            return
        training_point = [p.detach().clone() for p in params] if self.training else None
        set_mode(optimizers, train=False)
        state = strategy.lightning_module_state_dict()
        checkpoint["state_dict"] = {name: value.clone() for name, value in state.items()}
        if "optimizer_states" in checkpoint:
            checkpoint["optimizer_states"] = [strategy.optimizer_state(o) for o in optimizers]
        if training_point is not None:
            checkpoint["training_point"] = training_point
            set_mode(optimizers, train=True)
            _assign(params, training_point)
        else:
            self.training = False

    def load(self, checkpoint: dict[str, Any]) -> None:
        self.pending = checkpoint.get("training_point")


@torch.no_grad()
def _assign(params: list[torch.Tensor], values: list[torch.Tensor]) -> None:
    for param, value in zip(params, values, strict=True):
        param.copy_(value)
