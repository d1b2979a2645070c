"""LAMB (You et al., 2020, "Large Batch Optimization for Deep Learning"): Adam with a layer-wise
trust ratio.

Each tensor's Adam step r = m / (sqrt(v) + eps) (plus wd * theta when decay is not
decoupled) is rescaled so that its norm is proportional to the tensor's own:

    theta <- theta - lr / (1 - beta1^t) * phi(|theta|) / (|r| + eps) * r,   phi(x) = min(x, 10)

(the trust ratio is 1 when either norm is 0). Large batches then take the same relative step
in every layer. As `pytorch_optimizer`'s `Lamb` with its defaults (v3 of the paper: the first
moment bias-corrected through the step size, the second not; weight norm clamped at 10), in the
arithmetic of its foreach path, with the options `weight_decouple` (AdamW-style decay, the
default; false: wd * theta added to r, the paper's) and `grad_averaging` (m takes (1 - beta1) g;
false: g). Left out: rectify, degenerated_to_sgd, n_sma_threshold, fixed_decay, adam,
pre_norm / max_grad_norm, adam_debias, adanorm, maximize.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from research.optim.base import ChainedOptimizer
from research.optim.transforms import (
    DecoupledWeightDecay,
    SecondMomentEMA,
    StepContext,
    Transform,
)
from research.optim.validation import Bound, Flag, Hyperparameter

MAX_WEIGHT_NORM = 10.0  # phi's clamp, pytorch_optimizer's Lamb.clamp


@dataclass(frozen=True)
class AveragedFirstMoment(Transform):
    """m <- beta1 * m + (1 - beta1) * g, or + g without gradient averaging."""

    beta: str = "beta1"
    averaging: str = "grad_averaging"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (Bound(self.beta, high=1.0), Flag(self.averaging))

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("exp_avg",)

    def apply(self, ctx: StepContext) -> None:
        beta = ctx.hp[self.beta]
        exp_avg = ctx.state["exp_avg"]
        ctx.ops.mul_(exp_avg, beta)
        ctx.ops.add_(exp_avg, ctx.grad, alpha=1.0 - beta if ctx.hp[self.averaging] else 1.0)


def _trust_ratios(weight_norms: Tensor, update_norms: Tensor, eps: float) -> Tensor:
    weight_norms = weight_norms.clamp(max=MAX_WEIGHT_NORM)
    usable = (weight_norms != 0) & (update_norms != 0)
    return torch.where(usable, weight_norms / (update_norms + eps), 1.0)


@dataclass(frozen=True)
class TrustRatioStep(Transform):
    """r = m / (sqrt(v) + eps) [+ wd * theta]; theta <- theta - lr / (1 - beta1^t) * trust * r."""

    compilable = False

    lr: str = "lr"
    beta1: str = "beta1"
    eps: str = "eps"
    key: str = "weight_decay"
    decoupled: str = "weight_decouple"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (
            Bound(self.lr),
            Bound(self.eps, low_inclusive=False, reason="it divides by sqrt(v)+eps"),
            Bound(self.key),
            Flag(self.decoupled),
        )

    def prepare(self, scalars: dict[str, Any], hp: Mapping[str, Any]) -> None:
        scalars["lamb_step_size"] = hp[self.lr] / (1.0 - hp[self.beta1] ** scalars["t"])

    def apply(self, ctx: StepContext) -> None:
        ops, eps = ctx.ops, ctx.hp[self.eps]
        ratio = ops.sqrt(ctx.state["exp_avg_sq"])
        ops.add_scalar_(ratio, eps)
        ops.reciprocal_(ratio)
        ops.mul_tensor_(ratio, ctx.state["exp_avg"])
        if not ctx.hp[self.decoupled] and not ctx.zero[self.key]:
            ops.add_(ratio, ctx.params, alpha=ctx.hp[self.key])
        weight_norms, update_norms = ops.norms(ctx.params), ops.norms(ratio)
        if isinstance(weight_norms, list):
            trust = _trust_ratios(torch.stack(weight_norms), torch.stack(update_norms), eps)
            trust = list(trust.unbind())
        else:
            trust = _trust_ratios(weight_norms, update_norms, eps)
        ops.mul_each_(ratio, trust)
        ops.add_(ctx.params, ratio, alpha=-ctx.scalars["lamb_step_size"])
        ctx.extras["trust_ratio"] = trust


class Lamb(ChainedOptimizer):
    """Layer-wise Adaptive Moments for Batch training. As pytorch_optimizer.Lamb."""

    chain = (
        DecoupledWeightDecay(flag="weight_decouple"),
        AveragedFirstMoment(),
        SecondMomentEMA(),
        TrustRatioStep(),
    )
    default_hyperparameters = {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-6,
        "weight_decay": 0.0,
        "weight_decouple": True,
        "grad_averaging": True,
    }
