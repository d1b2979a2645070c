"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"): sign descent on an
interpolation of the momentum and the gradient.

    c <- beta1 * m + (1 - beta1) * g          (interpolation, for this step's direction)
    theta <- theta * (1 - lr * wd) - lr * sign(c)
    m <- beta2 * m + (1 - beta2) * g          (the momentum, with a longer memory)

Every coordinate moves by exactly lr (plus decay), so Lion's lr is typically 3-10x smaller
than AdamW's and its weight decay 3-10x larger. As the `lion-pytorch` package's `Lion` (its
foreach arithmetic: lerp for both EMAs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from research.optim.base import ChainedOptimizer
from research.optim.transforms import DecoupledWeightDecay, DescentStep, StepContext, Transform
from research.optim.validation import Bound, Hyperparameter


@dataclass(frozen=True)
class InterpolatedSign(Transform):
    """direction = sign(lerp(m, g, 1 - beta1)); then m <- lerp(m, g, 1 - beta2)."""

    interpolation: str = "beta1"
    momentum: str = "beta2"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (Bound(self.interpolation, high=1.0), Bound(self.momentum, high=1.0))

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("exp_avg",)

    def apply(self, ctx: StepContext) -> None:
        exp_avg = ctx.state["exp_avg"]
        direction = ctx.ops.lerp(exp_avg, ctx.grad, 1 - ctx.hp[self.interpolation])
        ctx.ops.sign_(direction)
        ctx.ops.lerp_(exp_avg, ctx.grad, 1 - ctx.hp[self.momentum])
        ctx.direction = [(1.0, direction)]


class Lion(ChainedOptimizer):
    """EvoLved Sign Momentum. As lion_pytorch.Lion (decoupled_weight_decay=False)."""

    chain = (DecoupledWeightDecay(), InterpolatedSign(), DescentStep())
    default_hyperparameters = {"lr": 1e-4, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0}
