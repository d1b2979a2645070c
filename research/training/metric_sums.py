"""Loss and accuracy kept as device-side sums, never synced to the host per step.

A training step only records its terms (`StepTerms`): a chunk of steps stacks them into one
vector, and a window or an epoch sums its vectors once, when its mean is logged. An epoch's
(or a window's) losses form the same vector however the steps were chunked, so no mean
depends on the chunk size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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
    """Loss and accuracy over a stretch of batches, kept as device tensors: each chunk's
    per-step loss sums as one vector, summed once when the means are asked for."""

    def __init__(self) -> None:
        self.loss_sums: list[torch.Tensor] = []
        self.correct = torch.zeros((), dtype=torch.long)
        self.count = 0

    def add(self, steps: Sequence[StepTerms]) -> None:
        """Record the steps' loss sums in order; count their correct predictions in one go
        (integers: no order of additions changes that sum)."""
        if not steps:
            return
        if steps[0].terms is not None:  # an objective's exact sums, not mean x count
            self.loss_sums.append(torch.stack([s.loss_sum() for s in steps]))
        else:
            losses = torch.stack([s.loss for s in steps])
            self.loss_sums.append(losses * losses.new_tensor([s.count for s in steps]))
        self.count += sum(s.count for s in steps)
        pairs = [(s.preds, s.targets) for s in steps if s.preds is not None]
        if pairs:
            preds, targets = (torch.cat(tensors) for tensors in zip(*pairs, strict=True))
            self.correct = self.correct.to(preds.device) + (preds == targets).sum()

    def means(self, reduce: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Mean loss and accuracy, after `reduce` (a sum across ranks) of the sums and count."""
        loss = torch.cat(self.loss_sums).sum() if self.loss_sums else torch.zeros(())
        correct = self.correct.to(loss.device)
        count = torch.tensor(self.count, device=loss.device)
        loss, correct, count = (reduce(t.float()) for t in (loss, correct, count))
        return loss / count, correct / count

    def state_dict(self) -> dict[str, Any]:
        """For a mid-epoch checkpoint: the same vector of sums, so the same epoch mean."""
        sums = [torch.cat(self.loss_sums)] if self.loss_sums else []
        return {"loss_sums": sums, "correct": self.correct, "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loss_sums, self.correct, self.count = (
            state["loss_sums"],
            state["correct"],
            state["count"],
        )


class Window:
    """The training losses of the steps since the loss was last logged, a vector per chunk."""

    def __init__(self) -> None:
        self.losses: list[torch.Tensor] = []

    def add(self, losses: torch.Tensor) -> None:
        self.losses.append(losses)

    def state_dict(self) -> dict[str, Any]:
        return {"losses": list(self.losses)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.losses = list(state["losses"])

    def pop(self) -> float:
        mean = torch.cat(self.losses).mean().item()
        self.losses = []
        return mean
