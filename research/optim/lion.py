"""Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"): sign descent on an
interpolation of the momentum and the gradient.

    c <- beta1 * m + (1 - beta1) * g          (interpolation, for this step's direction)
    theta <- theta * (1 - lr * wd) - lr * sign(c)
    m <- beta2 * m + (1 - beta2) * g          (the momentum, with a longer memory)

Every coordinate moves by exactly lr (plus decay), so Lion's lr is typically 3-10x smaller
than AdamW's and its weight decay 3-10x larger. As the `lion-pytorch` package's `Lion`, in
its arithmetic (beta * m, then + (1 - beta) * g, for both EMAs), so that the signs agree
bit for bit: its foreach variant interpolates with lerp instead, which rounds differently and
can flip the sign of a coordinate whose interpolation is within rounding of 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from research.optim.base import ChainedOptimizer
from research.optim.transforms import DecoupledWeightDecay, DescentStep, StepContext, Transform
from research.optim.validation import Bound, Hyperparameter


@dataclass(frozen=True)
class InterpolatedSign(Transform):
    """direction = sign(beta1 * m + (1 - beta1) * g); then m <- beta2 * m + (1 - beta2) * g."""

    interpolation: str = "beta1"
    momentum: str = "beta2"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (Bound(self.interpolation, high=1.0), Bound(self.momentum, high=1.0))

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("exp_avg",)

    def apply(self, ctx: StepContext) -> None:
        ops, exp_avg = ctx.ops, ctx.state["exp_avg"]
        beta1, beta2 = ctx.hp[self.interpolation], ctx.hp[self.momentum]
        direction = ops.mul_scalar(exp_avg, beta1)
        ops.add_(direction, ctx.grad, alpha=1 - beta1)
        ops.sign_(direction)
        ops.mul_(exp_avg, beta2)
        ops.add_(exp_avg, ctx.grad, alpha=1 - beta2)
        ctx.direction = [(1.0, direction)]


class Lion(ChainedOptimizer):
    """EvoLved Sign Momentum. As lion_pytorch.Lion (decoupled_weight_decay=False)."""

    chain = (DecoupledWeightDecay(), InterpolatedSign(), DescentStep())
    default_hyperparameters = {"lr": 1e-4, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0}
