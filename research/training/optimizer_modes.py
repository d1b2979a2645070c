"""Optimizers the training loop treats specially, recognised by what they declare.

- An optimizer with `train()` and `eval()` methods (Schedule-Free's, the project's and the
  `schedulefree` package's alike) keeps its parameters at a training point while stepping
  and has another point to evaluate. Lightning has no hook for this (Lightning issue 20441);
  the module calls `eval()` before validation, testing, checkpoints and at the end of
  training, and `train()` before the next optimizer step. A checkpoint therefore holds the
  evaluation point, and a resumed run goes back to training exactly as the uninterrupted run
  did after the same save.
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
