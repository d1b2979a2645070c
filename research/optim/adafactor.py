"""Adafactor (Shazeer & Stern, 2018): Adam's second moment in sublinear memory, and a step size
relative to the parameters' own scale.

For a matrix (the last two dimensions of a tensor) the EMA of g^2 is kept as its row sums R
and column sums C, and rebuilt as the rank-1 estimate V = R C / sum(R); vectors keep a full
EMA. The EMA's coefficient grows with the step, beta2_t = 1 - t^beta2_decay, so early steps
average few gradients. The update U = g / sqrt(V) is clipped to RMS(U) <= d, and its size is
relative: alpha_t = max(eps2, RMS(theta)) * min(lr, 1 / sqrt(t)), the "relative step".
There is no first moment.

As torch.optim.Adafactor (its foreach arithmetic), where lr caps the relative step and scales
the decoupled weight decay, and eps1 (None: the dtype's machine epsilon) bounds V and its row
sums from below; torch's `maximize` and `foreach` are left out (impl chooses the code path).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from research.optim.base import ChainedOptimizer
from research.optim.transforms import DecoupledWeightDecay, StepContext, Transform
from research.optim.validation import Bound, Hyperparameter


def _floats(ops: Any, values: Any) -> Any:
    """0-dim tensors as Python floats: one host read for a whole bucket."""
    if isinstance(values, Tensor):
        return values.item()
    return torch.stack(values).tolist() if values else []


def _rms(tensor: Tensor, norm: float) -> float:
    return norm / (tensor.numel() ** 0.5)


@dataclass(frozen=True)
class RelativeStepSize(Transform):
    """alpha_t = max(eps2, RMS(theta)) * rho_t with rho_t = min(lr, 1 / sqrt(t)), measured on
    the parameters before this step's decay."""

    compilable = False  # reads the parameter norms on the host

    lr: str = "lr"
    eps2: str = "eps2"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (Bound(self.lr), Bound(self.eps2))

    def prepare(self, scalars: dict[str, Any], hp: Mapping[str, Any]) -> None:
        scalars["relative_step"] = min(hp[self.lr], 1 / (scalars["t"] ** 0.5))

    def apply(self, ctx: StepContext) -> None:
        norms = _floats(ctx.ops, ctx.ops.each(lambda p: p.norm(2), ctx.params))
        rho, eps2 = ctx.scalars["relative_step"], ctx.hp[self.eps2]
        ctx.extras["step_size"] = ctx.ops.each(
            lambda p, norm: max(eps2, _rms(p, norm)) * rho, ctx.params, norms
        )

    def diagnostics(self, scalars: Mapping[str, Any], group: Mapping[str, Any]) -> dict[str, float]:
        return {"relative_step": scalars["relative_step"]} if "relative_step" in scalars else {}


def _mean_square(grad: Tensor, dim: int) -> Tensor:
    # (g * g).mean(dim) without an intermediate of g's size, as torch computes it
    mean = torch.linalg.vector_norm(grad, dim=dim, keepdim=True)
    mean.mul_(mean)
    return mean.div_(grad.size(dim))


@dataclass(frozen=True)
class FactoredSecondMoment(Transform):
    """U = g / sqrt(max(V, eps1^2)): V from the row and column EMAs of g^2 for matrices
    (V = R C / max(mean(R), eps1)), from a full EMA for vectors; beta2_t = 1 - t^beta2_decay."""

    compilable = False

    decay: str = "beta2_decay"
    eps1: str = "eps1"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (
            Bound(self.decay, low=-math.inf, high=0.0, high_inclusive=True),
            Bound(self.eps1, optional=True),
        )

    def buffer_names(self, param: Tensor, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("row_var", "col_var") if param.dim() > 1 else ("variance",)

    def make_buffer(self, name: str, param: Tensor) -> Tensor:
        if name == "variance":
            return torch.zeros_like(param, memory_format=torch.preserve_format)
        shape = list(param.shape)
        shape[-1 if name == "row_var" else -2] = 1
        return param.new_zeros(shape)

    def prepare(self, scalars: dict[str, Any], hp: Mapping[str, Any]) -> None:
        scalars["one_minus_beta2"] = scalars["t"] ** hp[self.decay]

    def apply(self, ctx: StepContext) -> None:
        ops, grad, weight = ctx.ops, ctx.grad, ctx.scalars["one_minus_beta2"]
        params = ctx.params
        eps1 = ctx.hp[self.eps1]
        if eps1 is None:
            eps1 = torch.finfo((params if isinstance(params, Tensor) else params[0]).dtype).eps
        if "variance" in ctx.state:
            variance = ctx.state["variance"]
            ops.lerp_(variance, ops.mul(grad, grad), weight)
            estimate = ops.clone(variance)
        else:
            row_var, col_var = ctx.state["row_var"], ctx.state["col_var"]
            ops.lerp_(row_var, ops.each(lambda g: _mean_square(g, -1), grad), weight)
            ops.lerp_(col_var, ops.each(lambda g: _mean_square(g, -2), grad), weight)
            estimate = ops.each(lambda r, c: r @ c, row_var, col_var)
            row_means = ops.each(lambda r: r.mean(dim=-2, keepdim=True), row_var)
            ops.clamp_min_(row_means, eps1)
            ops.div_tensor_(estimate, row_means)
        ops.clamp_min_(estimate, eps1 * eps1)  # squared: eps1 bounds sqrt(V)
        ops.rsqrt_(estimate)
        ops.mul_tensor_(estimate, grad)
        ctx.direction = [(1.0, estimate)]


@dataclass(frozen=True)
class ClippedRelativeStep(Transform):
    """theta <- theta - alpha_t * U / max(1, RMS(U) / d): update clipping, then the relative
    step size (no lr here: it entered through rho_t)."""

    compilable = False

    clip: str = "d"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (Bound(self.clip, low=1.0, reason="RMS(U) is clipped to d"),)

    def apply(self, ctx: StepContext) -> None:
        ops, d = ctx.ops, ctx.hp[self.clip]
        ((_, update),) = ctx.terms()
        norms = _floats(ops, ops.each(lambda u: u.norm(2), update))
        factors = ops.each(
            lambda u, norm, size: -size / max(1.0, _rms(u, norm) / d),
            update,
            norms,
            ctx.extras["step_size"],
        )
        ops.mul_each_(update, factors)
        ops.add_(ctx.params, update, alpha=1.0)


class Adafactor(ChainedOptimizer):
    """Factored second moment, relative step size, update clipping. As torch.optim.Adafactor."""

    chain = (
        RelativeStepSize(),
        DecoupledWeightDecay(),
        FactoredSecondMoment(),
        ClippedRelativeStep(),
    )
    default_hyperparameters = {
        "lr": 1e-2,
        "beta2_decay": -0.8,
        "eps1": None,
        "eps2": 1e-3,
        "d": 1.0,
        "weight_decay": 0.0,
    }
