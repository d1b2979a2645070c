"""Prodigy (Mishchenko & Defazio, 2024, "Prodigy: An Expeditiously Adaptive Parameter-Free
Learner"): Adam whose step size d is an estimate of the distance to the solution.

With d_k the current estimate, lr a multiplier (1 unless unstable) and dlr = d_k * lr:

    m <- beta1 m + (1 - beta1) d_k g,      v <- beta2 v + (1 - beta2) d_k^2 g^2
    s <- beta3 s + (d_k / d0) dlr g,       r <- beta3 r + (d_k / d0) dlr <g, theta_0 - theta>
    d_hat = d_coef * r / |s|_1,            d_{k+1} = min(max(d_k, d_hat), d_k * growth_rate)
    theta <- theta - dlr * m / (sqrt(v) + d_{k+1} eps)

(the max uses every d_hat so far). r and |s|_1 are sums over every parameter of every group,
so the chain synchronizes once per step: moments and sums for all parameters, then d, then the
update. As the `prodigyopt` package's `Prodigy`: beta3 None means sqrt(beta2); `decouple`
chooses AdamW-style decay (default) over L2; `use_bias_correction` and `safeguard_warmup` as
there; d, d_max, d_numerator and k live in the param groups as there. Left out: `slice_p`
(estimating from every p-th coordinate) and `fsdp_in_use`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from research.optim.base import ChainedOptimizer
from research.optim.transforms import StepContext, Transform
from research.optim.validation import Bound, Flag, Hyperparameter


def _to_floats(values: list[Tensor]) -> list[float]:
    """0-dim tensors as floats, one host read per device."""
    out: list[float] = [0.0] * len(values)
    by_device: dict[torch.device, list[int]] = {}
    for i, value in enumerate(values):
        by_device.setdefault(value.device, []).append(i)
    for indices in by_device.values():
        floats = torch.stack([values[i] for i in indices]).tolist()
        for i, value in zip(indices, floats, strict=True):
            out[i] = value
    return out


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class DistanceEstimate(Transform):
    """Moments scaled by d, the sums s and r, and (once all parameters are done) the new d."""

    compilable = False
    synchronizes = True

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (
            Bound("lr"),
            Bound("beta1", high=1.0),
            Bound("beta2", high=1.0),
            Bound("beta3", high=1.0, optional=True),
            Bound("weight_decay"),
            Flag("decouple"),
            Flag("use_bias_correction"),
            Flag("safeguard_warmup"),
            Bound("d0", low_inclusive=False, reason="d starts there"),
            Bound("d_coef"),
            Bound("growth_rate", low_inclusive=False),
        )

    def buffer_names(self, param: Tensor, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("s", "p0", *(() if zero["beta1"] else ("exp_avg",)), "exp_avg_sq")

    def make_buffer(self, name: str, param: Tensor) -> Tensor:
        if name == "p0":
            return param.detach().clone()
        return torch.zeros_like(param, memory_format=torch.preserve_format)

    def group_state(self) -> dict[str, Any]:
        return {"d_numerator": 0.0, "k": 0}  # d, d_max: Prodigy.add_param_group

    def prepare_group(
        self, scalars: dict[str, Any], group: dict[str, Any], param_groups: list[dict[str, Any]]
    ) -> None:
        first = param_groups[0]  # the reference reads its global settings from group 0
        beta1, beta2, k, d = first["beta1"], first["beta2"], first["k"], first["d"]
        beta3 = first["beta3"] if first["beta3"] is not None else math.sqrt(beta2)
        lr = max(g["lr"] for g in param_groups)
        if group["lr"] not in (lr, 0.0):
            raise RuntimeError("Prodigy: every group's lr must be the largest lr, or 0")
        correction = 1.0
        if first["use_bias_correction"]:
            correction = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))
        dlr = d * lr * correction
        scalars.update(
            {
                "prodigy_d": d,
                "dlr": dlr,
                "lr_max": lr,
                "beta1": beta1,
                "beta2": beta2,
                "beta3": beta3,
                "decouple": first["decouple"],
            }
        )

    def apply(self, ctx: StepContext) -> None:
        ops, hp, sc, state = ctx.ops, ctx.hp, ctx.scalars, ctx.state
        d, dlr, d0 = sc["prodigy_d"], sc["dlr"], hp["d0"]
        if not ctx.zero["weight_decay"] and not sc["decouple"]:
            ctx.grad = ops.add(ctx.grad, ctx.params, alpha=hp["weight_decay"])
        grad = ctx.grad
        if hp["lr"] == 0:
            return
        difference = ops.sub(state["p0"], ctx.params)
        ctx.extras["dots"] = ops.each(
            lambda g, p: torch.dot(g.flatten(), p.flatten()), grad, difference
        )
        ctx.extras["dot_scale"] = (d / d0) * dlr
        if sc["beta1"] > 0:
            ops.mul_(state["exp_avg"], sc["beta1"])
            ops.add_(state["exp_avg"], grad, alpha=d * (1 - sc["beta1"]))
        ops.mul_(state["exp_avg_sq"], sc["beta2"])
        ops.addcmul_(state["exp_avg_sq"], grad, grad, value=d * d * (1 - sc["beta2"]))
        ops.mul_(state["s"], sc["beta3"])
        ops.add_(state["s"], grad, alpha=(d / d0) * (d if hp["safeguard_warmup"] else dlr))
        ctx.extras["s_sums"] = ops.each(lambda s: s.abs().sum(), state["s"])

    def reduce(self, contexts: list[StepContext], param_groups: list[dict[str, Any]]) -> bool:
        scales, dots, sums = [], [], []
        for ctx in contexts:
            if "dots" in ctx.extras:
                count = len(_listed(ctx.extras["dots"]))
                scales += [ctx.extras["dot_scale"]] * count
                dots += _listed(ctx.extras["dots"])
                sums += _listed(ctx.extras["s_sums"])
        d_denom = sum(_to_floats(sums))
        if d_denom == 0:
            return False  # no gradient yet: the reference leaves the step here
        delta = sum(scale * dot for scale, dot in zip(scales, _to_floats(dots), strict=True))
        first, last = param_groups[0], param_groups[-1]
        beta3 = contexts[0].scalars["beta3"]
        d, d_max = first["d"], first["d_max"]
        numerator = first["d_numerator"] * beta3 + delta
        d_hat = first["d_coef"] * numerator / d_denom
        if d == last["d0"]:
            d = max(d, d_hat)
        d_max = max(d_max, d_hat)
        d = min(d_max, d * first["growth_rate"])
        for group in param_groups:
            group.update(d_numerator=numerator, d_denom=d_denom, d=d, d_max=d_max, d_hat=d_hat)
            group["k"] += 1
        return True

    def diagnostics(self, scalars: Mapping[str, Any], group: Mapping[str, Any]) -> dict[str, float]:
        if "dlr" not in scalars:
            return {}
        return {
            "d": group["d"],
            "d_hat": group.get("d_hat", math.nan),
            "effective_lr": group["d"] * group["lr"],  # the next step's, before bias correction
        }


@dataclass(frozen=True)
class ProdigyStep(Transform):
    """theta <- theta - dlr * m / (sqrt(v) + d eps), with the new d; decoupled decay by dlr."""

    compilable = False

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (Bound("eps", low_inclusive=False, reason="it divides by sqrt(v)+d*eps"),)

    def apply(self, ctx: StepContext) -> None:
        ops, hp, sc, state = ctx.ops, ctx.hp, ctx.scalars, ctx.state
        d, dlr = hp["d"], sc["dlr"]  # a group at lr 0 steps too, with the global dlr, as there
        denominator = ops.sqrt(state["exp_avg_sq"])
        ops.add_scalar_(denominator, d * hp["eps"])
        if not ctx.zero["weight_decay"] and sc["decouple"]:
            ops.add_(ctx.params, ctx.params, alpha=-hp["weight_decay"] * dlr)
        if sc["beta1"] > 0:
            ops.addcdiv_(ctx.params, state["exp_avg"], denominator, value=-dlr)
        else:
            ops.addcdiv_(ctx.params, ctx.grad, denominator, value=-dlr * d)
        ctx.second_moment, ctx.eps = state["exp_avg_sq"], d * hp["eps"]


class Prodigy(ChainedOptimizer):
    """Learning-rate-free Adam: keep lr at 1 and let d find the step size."""

    chain = (DistanceEstimate(), ProdigyStep())
    default_hyperparameters = {
        "lr": 1.0,
        "beta1": 0.9,
        "beta2": 0.999,
        "beta3": None,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "decouple": True,
        "use_bias_correction": False,
        "safeguard_warmup": False,
        "d0": 1e-6,
        "d_coef": 1.0,
        "growth_rate": math.inf,
    }

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        # d starts at the constructor's d0 in every group, as in the reference
        param_group.setdefault("d", self.defaults["d0"])
        param_group.setdefault("d_max", self.defaults["d0"])
        super().add_param_group(param_group)
