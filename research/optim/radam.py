"""RAdam (Liu et al., 2020): Adam whose adaptive step is switched on gradually.

Early on, v averages so few squared gradients that 1 / sqrt(v) has a large variance. RAdam
estimates the length of the simple moving average that the EMA v approximates,

    rho_inf = 2 / (1 - beta2) - 1,    rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t),

and while rho_t <= 5 takes a plain momentum step lr * m_hat; afterwards the Adam step times the
variance rectification term

    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)),

which grows towards 1. As torch.optim.RAdam, in the arithmetic of its foreach path, with
`decoupled_weight_decay` choosing AdamW-style decay over L2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from research.optim.base import ChainedOptimizer
from research.optim.transforms import (
    FirstMomentEMA,
    SecondMomentEMA,
    StepContext,
    Transform,
    WeightDecay,
)
from research.optim.validation import Bound, Hyperparameter

RECTIFY_ABOVE = 5.0  # rho_t at which the adaptive step starts (the paper's and torch's)


@dataclass(frozen=True)
class RectifiedStep(Transform):
    """theta <- theta - lr * m_hat * (r_t sqrt(1 - beta2^t) / (sqrt(v) + eps)  if rho_t > 5
    else 1): the adaptive step scaled by the rectification term, or plain momentum."""

    lr: str = "lr"
    beta1: str = "beta1"
    beta2: str = "beta2"
    eps: str = "eps"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (
            Bound(self.lr),
            Bound(self.beta1, high=1.0),
            Bound(self.beta2, high=1.0),
            Bound(self.eps, low_inclusive=False, reason="it divides by sqrt(v)+eps"),
        )

    def prepare(self, scalars: dict[str, Any], hp: Mapping[str, Any]) -> None:
        t, lr, beta1, beta2 = scalars["t"], hp[self.lr], hp[self.beta1], hp[self.beta2]
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / (1 - beta2**t)
        rect = 0.0
        if rho_t > RECTIFY_ABOVE:
            rect = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            rect **= 0.5
        bias_correction1 = 1 - beta1**t
        # torch's foreach arithmetic: the update is m * (1 / ((sqrt(v) + eps) / scale) + plain)
        scalars["rectification"], scalars["sma_length"] = rect, rho_t
        scalars["rectified_scale"] = ((1 - beta2**t) ** 0.5) * (lr * rect / bias_correction1) * -1
        scalars["unrectified_step"] = (lr * (0.0 if rect > 0 else 1.0) / bias_correction1) * -1
        scalars["bias_correction2"] = 1 - beta2**t

    def apply(self, ctx: StepContext) -> None:
        ops = ctx.ops
        ctx.second_moment_correction = ctx.scalars["bias_correction2"]  # for diagnostics
        ctx.eps = ctx.hp[self.eps]
        multiplier = ops.sqrt(ctx.state["exp_avg_sq"])
        ops.add_scalar_(multiplier, ctx.hp[self.eps])
        ops.div_scalar_(multiplier, ctx.scalars["rectified_scale"])  # -inf when unrectified
        ops.reciprocal_(multiplier)  # ... whose reciprocal, -0, leaves the plain step
        ops.add_scalar_(multiplier, ctx.scalars["unrectified_step"])
        ops.addcmul_(ctx.params, ctx.state["exp_avg"], multiplier, value=1.0)

    def diagnostics(self, scalars: Mapping[str, Any], group: Mapping[str, Any]) -> dict[str, float]:
        if "rectification" not in scalars:
            return {}
        return {"rectification": scalars["rectification"], "sma_length": scalars["sma_length"]}


class RAdam(ChainedOptimizer):
    """Rectified Adam. As torch.optim.RAdam (coupled L2 decay unless decoupled_weight_decay)."""

    chain = (WeightDecay(), FirstMomentEMA(), SecondMomentEMA(), RectifiedStep())
    default_hyperparameters = {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "decoupled_weight_decay": False,
    }
