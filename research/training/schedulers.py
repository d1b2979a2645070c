"""Learning-rate schedules that need the run's length, given as `total_steps`."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(
    optimizer: Optimizer, total_steps: int, warmup_steps: int = 0, min_lr_ratio: float = 0.0
) -> LambdaLR:
    """Linear warm-up to the configured lr, then cosine decay to `min_lr_ratio` of it."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def inverse_sqrt(optimizer: Optimizer) -> LambdaLR:
    """lr / sqrt(t) at step t = 1, 2, ...: the schedule of the online-convex-optimisation
    analyses of Adam and AMSGrad (Reddi, Kale & Kumar, 2018)."""
    return LambdaLR(optimizer, lambda step: 1 / math.sqrt(step + 1))
