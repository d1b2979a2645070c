"""The pieces update rules are built from: small transforms that a named optimizer chains.

The articles describe Adam as "RMSprop + Momentum" plus bias correction; here that is literal:

    Adam   = CoupledWeightDecay, FirstMomentEMA, SecondMomentEMA, BiasCorrection,
             ScaleByRootSecondMoment, DescentStep
    AdamW  = the same with DecoupledWeightDecay in place of CoupledWeightDecay

Each transform reads its hyperparameters by name from the param group (so LR schedulers,
Hydra overrides and Optuna address them directly), keeps its per-parameter tensors in the
optimizer state under torch's names (`exp_avg`, `exp_avg_sq`, ...), and updates a shared
`StepContext`. The update is kept symbolic until the last transform applies it:

    theta <- theta - lr * sum_i(coef_i * direction_i) / denominator

which lets bias correction be a scalar and the final step a single `addcdiv_`, in torch's
arithmetic order. Transforms are frozen dataclasses, so two chains compare equal exactly
when they compute the same thing (that is how fused kernels are matched to chains).

Rules that are not elementwise use the same interface: per-tensor maths through `ctx.ops.each`
(Adafactor's factored moments, Muon's Newton-Schulz), state of other shapes through
`buffer_names`/`make_buffer`, per-group scalar state kept in the param group (`group_state`,
`prepare_group`: Schedule-Free's averaging weights), and quantities summed over every
parameter before the update can go on (`synchronizes` and `reduce`: Prodigy's distance
estimate). Each optimizer's own transforms live in its module (`research/optim/lion.py`, ...).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from research.optim.ops import Ops, Scalar, Tensors
from research.optim.validation import Bound, Flag, Hyperparameter


@dataclass
class StepContext:
    """What the transforms of a chain share while updating one tensor or one bucket of them."""

    ops: Ops
    params: Tensors
    grad: Tensors  # the gradient the moment estimates see (coupled L2 replaces it)
    state: Mapping[str, Tensors]  # the chain's buffers, by name
    hp: Mapping[str, Scalar]  # the param group's hyperparameters
    zero: Mapping[str, bool]  # which hyperparameters are 0 (lets a transform skip work)
    scalars: Mapping[str, Scalar]  # "t" and what `prepare` computed for this step
    direction: list[tuple[Scalar, Tensors]] | None = None  # None: the gradient itself
    denominator: Tensors | None = None
    second_moment: Tensors | None = None  # what the denominator is the square root of
    second_moment_correction: Scalar | None = None  # 1 - beta2^t when bias-corrected
    second_moment_root_correction: Scalar | None = None  # its square root
    eps: Scalar | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # a rule's own intermediate values

    def terms(self) -> list[tuple[Scalar, Tensors]]:
        """The update direction as (coefficient, tensor) terms, before the denominator."""
        return self.direction if self.direction is not None else [(1.0, self.grad)]


class Transform:
    """One stage of an update rule; subclasses are frozen dataclasses."""

    # False for a transform whose maths torch.compile cannot trace as one graph (host
    # synchronisation, data-dependent Python branches): its chains refuse impl="compile".
    compilable: ClassVar[bool] = True
    # True for a transform whose `reduce` needs every parameter's `apply` first (Prodigy's
    # sums over all groups): the optimizer runs the chain up to it for all parameters, calls
    # `reduce` once, then runs the rest.
    synchronizes: ClassVar[bool] = False
    # True for a transform whose per-tensor path is the reference's exact arithmetic and whose
    # foreach path is only equal to rounding (Muon's batched Newton-Schulz): impl="auto" then
    # takes the per-tensor path on every device.
    exact_per_tensor: ClassVar[bool] = False

    def bounds(self) -> tuple[Hyperparameter, ...]:
        """The hyperparameters this transform reads, with their allowed values."""
        return ()

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        """Names of the zero-initialised per-parameter tensors it keeps in optimizer state."""
        return ()

    def buffer_names(self, param: Tensor, zero: Mapping[str, bool]) -> tuple[str, ...]:
        """The state tensors it keeps for this parameter; may depend on `param.dim()` only
        (Adafactor factors matrices). Created by `make_buffer`; by default `buffers(zero)`."""
        return self.buffers(zero)

    def make_buffer(self, name: str, param: Tensor) -> Tensor:
        """A new state tensor named `name` for `param`; by default zeros shaped like it."""
        return torch.zeros_like(param, memory_format=torch.preserve_format)

    def initial_scalars(self) -> dict[str, float]:
        """Per-parameter scalar state it keeps (e.g. NAdam's running product of momenta)."""
        return {}

    def group_state(self) -> dict[str, Any]:
        """Scalar state kept in each param group (so state_dict() saves it), with initial
        values: for rules whose scalars belong to the group, not to a tensor."""
        return {}

    def prepare_group(
        self, scalars: dict[str, Any], group: dict[str, Any], param_groups: list[dict[str, Any]]
    ) -> None:
        """This step's scalars for the whole group, once per group before its buckets; may
        update the group's state. What it writes reaches `prepare` and `apply`."""

    def diagnostics(self, scalars: Mapping[str, Any], group: Mapping[str, Any]) -> dict[str, float]:
        """Scalars worth logging after a recorded step (`callbacks=optim_diagnostics`)."""
        return {}

    def reduce(self, contexts: list[StepContext], param_groups: list[dict[str, Any]]) -> bool:
        """(`synchronizes` only) Combine what `apply` left in every context; return False to
        end the step here, as Prodigy does when no gradient has moved its estimate."""
        return True

    def prepare(self, scalars: dict[str, float], hp: Mapping[str, float]) -> None:
        """This step's scalar math (bias corrections...), once per bucket, in float64.

        `scalars` holds the step count "t" (from 1) and the scalar state, and passes what this
        writes to later transforms and to `apply` (as `ctx.scalars`). Doing it here keeps
        powers of t out of the per-element loops that torch.compile generates.
        """

    def apply(self, ctx: StepContext) -> None:
        """Do this stage's math on ctx: one tensor, or a whole bucket through `ctx.ops`.
        (Nothing for a transform that only prepares scalars.)"""


@dataclass(frozen=True)
class Restart(Transform):
    """Forget everything each step: t, m and v restart at 0, as in article 4's `diy_adam`.

    With bias correction the first step of Adam is lr * g / (|g| + eps), so this turns Adam into
    sign descent; it reproduces a common mistake so that its effect can be measured.
    """

    def prepare(self, scalars: dict[str, float], hp: Mapping[str, float]) -> None:
        scalars["t"] = 1

    def apply(self, ctx: StepContext) -> None:
        for buffer in ctx.state.values():
            ctx.ops.zero_(buffer)


@dataclass(frozen=True)
class CoupledWeightDecay(Transform):
    """L2 regularisation: g <- g + weight_decay * theta, so the penalty goes through m and v."""

    key: str = "weight_decay"

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.key),)

    def apply(self, ctx: StepContext) -> None:
        if not ctx.zero[self.key]:
            ctx.grad = ctx.ops.add(ctx.grad, ctx.params, alpha=ctx.hp[self.key])


@dataclass(frozen=True)
class DecoupledWeightDecay(Transform):
    """AdamW's decay: theta <- theta * (1 - lr * weight_decay), outside the adaptive scaling."""

    key: str = "weight_decay"
    lr: str = "lr"
    flag: str | None = None  # a switch that turns it off per group (LAMB's weight_decouple)

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (Bound(self.key), *((Flag(self.flag),) if self.flag else ()))

    def apply(self, ctx: StepContext) -> None:
        if ctx.zero[self.key] or (self.flag is not None and not ctx.hp[self.flag]):
            return
        ctx.ops.mul_(ctx.params, 1 - ctx.hp[self.lr] * ctx.hp[self.key])


@dataclass(frozen=True)
class WeightDecay(Transform):
    """Coupled (L2 through the moments) or decoupled (AdamW) decay, chosen by a flag per group,
    as torch.optim.RAdam's `decoupled_weight_decay`."""

    key: str = "weight_decay"
    flag: str = "decoupled_weight_decay"
    lr: str = "lr"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (Bound(self.key), Flag(self.flag))

    def apply(self, ctx: StepContext) -> None:
        if ctx.zero[self.key]:
            return
        if ctx.hp[self.flag]:
            ctx.ops.mul_(ctx.params, 1 - ctx.hp[self.lr] * ctx.hp[self.key])
        else:
            ctx.grad = ctx.ops.add(ctx.grad, ctx.params, alpha=ctx.hp[self.key])


@dataclass(frozen=True)
class FirstMomentEMA(Transform):
    """m <- beta1 * m + (1 - beta1) * g: the direction becomes the gradient's running mean."""

    beta: str = "beta1"

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.beta, high=1.0),)

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("exp_avg",)

    def apply(self, ctx: StepContext) -> None:
        exp_avg = ctx.state["exp_avg"]
        ctx.ops.lerp_(exp_avg, ctx.grad, 1 - ctx.hp[self.beta])
        ctx.direction = [(1.0, exp_avg)]


@dataclass(frozen=True)
class HeavyBallMomentum(Transform):
    """buf <- momentum * buf + direction (torch's SGD momentum, no dampening)."""

    key: str = "momentum"

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.key, high=1.0),)

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return () if zero[self.key] else ("momentum_buffer",)

    def apply(self, ctx: StepContext) -> None:
        if ctx.zero[self.key]:
            return
        buffer = ctx.state["momentum_buffer"]
        ctx.ops.mul_(buffer, ctx.hp[self.key])
        for coef, term in ctx.terms():
            if ctx.denominator is None:
                ctx.ops.add_(buffer, term, alpha=coef)
            else:
                ctx.ops.addcdiv_(buffer, term, ctx.denominator, value=coef)
        ctx.direction, ctx.denominator = [(1.0, buffer)], None


@dataclass(frozen=True)
class NesterovLookahead(Transform):
    """Step along g + momentum * buf, the gradient seen from the momentum's next position."""

    key: str = "momentum"

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.key, high=1.0),)

    def apply(self, ctx: StepContext) -> None:
        if not ctx.zero[self.key]:
            lookahead = ctx.ops.add(ctx.grad, ctx.state["momentum_buffer"], alpha=ctx.hp[self.key])
            ctx.direction = [(1.0, lookahead)]


@dataclass(frozen=True)
class NesterovFirstMoment(Transform):
    """NAdam's momentum (Dozat 2016, as torch.optim.NAdam): a Nesterov step on a decayed m.

    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)); the direction is
    (1 - mu_t) / (1 - prod(mu_1..t)) * g + mu_{t+1} / (1 - prod(mu_1..t+1)) * m.
    """

    beta: str = "beta1"
    decay: str = "momentum_decay"

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.beta, high=1.0), Bound(self.decay))

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("exp_avg",)

    def initial_scalars(self) -> dict[str, float]:
        return {"mu_product": 1.0}

    def prepare(self, scalars: dict[str, float], hp: Mapping[str, float]) -> None:
        t = scalars["t"]
        mu, mu_next = (hp[self.beta] * (1 - 0.5 * 0.96 ** (s * hp[self.decay])) for s in (t, t + 1))
        # torch keeps this product in a float32 tensor; round the same way to agree with it
        mu_product = scalars["mu_product"] = _float32(scalars["mu_product"] * _float32(mu))
        scalars["nesterov_grad_coef"] = (1 - mu) / (1 - mu_product)
        scalars["nesterov_momentum_coef"] = mu_next / (1 - mu_product * mu_next)

    def apply(self, ctx: StepContext) -> None:
        exp_avg = ctx.state["exp_avg"]
        ctx.ops.lerp_(exp_avg, ctx.grad, 1 - ctx.hp[self.beta])
        ctx.direction = [
            (ctx.scalars["nesterov_grad_coef"], ctx.grad),
            (ctx.scalars["nesterov_momentum_coef"], exp_avg),
        ]


@dataclass(frozen=True)
class SecondMomentEMA(Transform):
    """v <- beta2 * v + (1 - beta2) * g^2: RMSprop's (and Adam's) running mean square."""

    beta: str = "beta2"

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.beta, high=1.0),)

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("exp_avg_sq",)

    def apply(self, ctx: StepContext) -> None:
        exp_avg_sq = ctx.state["exp_avg_sq"]
        ctx.ops.mul_(exp_avg_sq, ctx.hp[self.beta])
        ctx.ops.addcmul_(exp_avg_sq, ctx.grad, ctx.grad, value=1 - ctx.hp[self.beta])
        ctx.second_moment = exp_avg_sq


@dataclass(frozen=True)
class SecondMomentSum(Transform):
    """s <- s + g^2: Adagrad's accumulator, which only grows, so its steps only shrink."""

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("sum",)

    def apply(self, ctx: StepContext) -> None:
        ctx.ops.addcmul_(ctx.state["sum"], ctx.grad, ctx.grad, value=1.0)
        ctx.second_moment = ctx.state["sum"]


@dataclass(frozen=True)
class AMSGradMax(Transform):
    """Scale by the running maximum of v, so the effective step size never grows (AMSGrad)."""

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("max_exp_avg_sq",)

    def apply(self, ctx: StepContext) -> None:
        max_exp_avg_sq = ctx.state["max_exp_avg_sq"]
        ctx.ops.maximum_(max_exp_avg_sq, ctx.second_moment)
        ctx.second_moment = max_exp_avg_sq


@dataclass(frozen=True)
class BiasCorrection(Transform):
    """Undo the pull towards 0 of moments started at 0: m / (1 - beta1^t), v / (1 - beta2^t).

    Either side can be switched off (None); NAdam corrects only the second moment.
    """

    first: str | None = "beta1"
    second: str | None = "beta2"

    def bounds(self) -> tuple[Bound, ...]:
        return tuple(Bound(name, high=1.0) for name in (self.first, self.second) if name)

    def prepare(self, scalars: dict[str, float], hp: Mapping[str, float]) -> None:
        if self.first is not None:
            scalars["bias_correction1"] = 1 - hp[self.first] ** scalars["t"]
        if self.second is not None:
            scalars["bias_correction2"] = 1 - hp[self.second] ** scalars["t"]
            scalars["bias_correction2_sqrt"] = scalars["bias_correction2"] ** 0.5

    def apply(self, ctx: StepContext) -> None:
        if self.first is not None:
            correction1 = ctx.scalars["bias_correction1"]
            ctx.direction = [(coef / correction1, term) for coef, term in ctx.terms()]
        if self.second is not None:
            ctx.second_moment_correction = ctx.scalars["bias_correction2"]
            ctx.second_moment_root_correction = ctx.scalars["bias_correction2_sqrt"]


@dataclass(frozen=True)
class ScaleByRootSecondMoment(Transform):
    """Divide the direction by sqrt(v_hat) + eps, per coordinate: the adaptive step size."""

    eps: str = "eps"

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.eps, low_inclusive=False, reason="it divides by sqrt(v)+eps"),)

    def apply(self, ctx: StepContext) -> None:
        denominator = ctx.ops.sqrt(ctx.second_moment)
        if ctx.second_moment_root_correction is not None:
            ctx.ops.div_scalar_(denominator, ctx.second_moment_root_correction)
        ctx.ops.add_scalar_(denominator, ctx.hp[self.eps])
        ctx.denominator, ctx.eps = denominator, ctx.hp[self.eps]


@dataclass(frozen=True)
class DescentStep(Transform):
    """theta <- theta - lr * direction / denominator: the learning-rate scaling, applied."""

    lr: str = "lr"

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.lr),)

    def apply(self, ctx: StepContext) -> None:
        lr = ctx.hp[self.lr]
        for coef, term in ctx.terms():
            if ctx.denominator is None:
                ctx.ops.add_(ctx.params, term, alpha=-lr * coef)
            else:
                ctx.ops.addcdiv_(ctx.params, term, ctx.denominator, value=-lr * coef)


def _float32(value: float) -> float:
    """Round a float64 to the nearest float32, as storing it in a float32 tensor does."""
    return struct.unpack("f", struct.pack("f", value))[0]


def chain_bounds(chain: tuple[Transform, ...]) -> dict[str, Hyperparameter]:
    """Every hyperparameter a chain reads, with its range (the first transform's wins)."""
    bounds: dict[str, Hyperparameter] = {}
    for transform in chain:
        for bound in transform.bounds():
            bounds.setdefault(bound.name, bound)
    return bounds


__all__ = [
    "AMSGradMax",
    "BiasCorrection",
    "CoupledWeightDecay",
    "DecoupledWeightDecay",
    "DescentStep",
    "FirstMomentEMA",
    "HeavyBallMomentum",
    "NesterovFirstMoment",
    "NesterovLookahead",
    "Restart",
    "ScaleByRootSecondMoment",
    "SecondMomentEMA",
    "SecondMomentSum",
    "StepContext",
    "Transform",
    "WeightDecay",
    "chain_bounds",
]
