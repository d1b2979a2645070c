"""Loss and accuracy kept as device-side sums, never synced to the host per step.

A training step only records its terms (`StepTerms`); they are summed once per chunk of
steps, where the few tiny ops per step run back to back (measurably cheaper than between a
step's large kernels). The losses are added in step order, the same float ops as adding each
step as it is taken, so the sums do not depend on the chunk size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass
class StepTerms:
    """What one batch contributes to the sums, still unsummed."""

    loss: torch.Tensor  # detached mean loss
    count: int  # predictions (or objective terms) in the batch
    preds: torch.Tensor | None = None  # classifiers: argmax per prediction
    targets: torch.Tensor | None = None
    terms: torch.Tensor | None = None  # objectives: the per-sample losses

    def loss_sum(self) -> torch.Tensor:
        return self.terms.sum() if self.terms is not None else self.loss * self.count


class RunningSums:
    """Loss and accuracy sums over a stretch of batches, kept as device tensors."""

    def __init__(self) -> None:
        self.loss = torch.zeros(())
        self.correct = torch.zeros((), dtype=torch.long)
        self.count = 0

    def add(self, steps: Sequence[StepTerms]) -> None:
        """Sum the steps' losses in order; count their correct predictions in one go
        (integers: no order of additions changes that sum)."""
        if not steps:
            return
        device = steps[0].loss.device
        if self.loss.device != device:
            self.loss, self.correct = self.loss.to(device), self.correct.to(device)
        for step in steps:
            self.loss = self.loss + step.loss_sum()
            self.count += step.count
        pairs = [(s.preds, s.targets) for s in steps if s.preds is not None]
        if pairs:
            preds, targets = (torch.cat(tensors) for tensors in zip(*pairs, strict=True))
            self.correct = self.correct + (preds == targets).sum()

    def means(self, reduce: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, ...]:
        count = torch.tensor(self.count, device=self.loss.device)
        loss, correct, count = (reduce(t.float()) for t in (self.loss, self.correct, count))
        return loss / count, correct / count


class Window:
    """The training loss summed over the steps since it was last logged."""

    def __init__(self) -> None:
        self.loss = torch.zeros(())
        self.steps = 0

    def add(self, loss: torch.Tensor) -> None:
        self.loss = self.loss.to(loss.device) + loss
        self.steps += 1

    def pop(self) -> float:
        mean = (self.loss / self.steps).item()
        self.loss = torch.zeros((), device=self.loss.device)
        self.steps = 0
        return mean
