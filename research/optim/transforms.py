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
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

from research.optim.ops import Ops, Scalar, Tensors
from research.optim.validation import Bound


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

    def terms(self) -> list[tuple[Scalar, Tensors]]:
        """The update direction as (coefficient, tensor) terms, before the denominator."""
        return self.direction if self.direction is not None else [(1.0, self.grad)]


class Transform:
    """One stage of an update rule; subclasses are frozen dataclasses."""

    def bounds(self) -> tuple[Bound, ...]:
        """The hyperparameters this transform reads, with their allowed ranges."""
        return ()

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        """Names of the zero-initialised per-parameter tensors it keeps in optimizer state."""
        return ()

    def initial_scalars(self) -> dict[str, float]:
        """Per-parameter scalar state it keeps (e.g. NAdam's running product of momenta)."""
        return {}

    def prepare(self, scalars: dict[str, float], hp: Mapping[str, float]) -> None:
        """This step's scalar math (bias corrections...), once per bucket, in float64.

        `scalars` holds the step count "t" (from 1) and the scalar state, and passes what this
        writes to later transforms and to `apply` (as `ctx.scalars`). Doing it here keeps
        powers of t out of the per-element loops that torch.compile generates.
        """

    def apply(self, ctx: StepContext) -> None:
        """Do this stage's math on ctx: one tensor, or a whole bucket through `ctx.ops`."""
        raise NotImplementedError


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

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.key),)

    def apply(self, ctx: StepContext) -> None:
        if not ctx.zero[self.key]:
            ctx.ops.mul_(ctx.params, 1 - ctx.hp[self.lr] * ctx.hp[self.key])


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


def chain_bounds(chain: tuple[Transform, ...]) -> dict[str, Bound]:
    """Every hyperparameter a chain reads, with its range (the first transform's wins)."""
    bounds: dict[str, Bound] = {}
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
    "chain_bounds",
]
