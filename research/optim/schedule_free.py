"""Schedule-Free AdamW (Defazio et al., 2024, "The Road Less Scheduled"): no learning-rate
schedule; an average of the iterates takes its place.

Three sequences: z takes AdamW-normalised gradient steps, x is a weighted running average of
the z's, and the gradient is taken at y, an interpolation between them:

    y_t = (1 - beta1) z_t + beta1 x_t                 (the parameters during training)
    z_{t+1} = z_t - lr_t * (g(y_t) / (sqrt(v_hat) + eps) + wd * y_t)
    x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1},    c_{t+1} = w_t / sum_{i<=t} w_i

with lr_t a linear warm-up over `warmup_steps` and weights w_t = t^r * max(lr_1..lr_t)^p
(p = weight_lr_power). Only y and z are stored: the parameters hold y while training and x,
the point to evaluate, after `eval()`; `train()` goes back. The framework switches modes around
validation, testing and checkpoints (research/training/module.py).

As the `schedulefree` package's `AdamWScheduleFree` (its foreach arithmetic; group state
`k`, `weight_sum`, `lr_max`, `train_mode` as it keeps them). Unlike it, a new optimizer starts in
train mode, so a plain training loop needs no `train()` call; stepping in eval mode is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from research.optim.base import ChainedOptimizer
from research.optim.transforms import SecondMomentEMA, StepContext, Transform
from research.optim.validation import Bound, Hyperparameter


@dataclass(frozen=True)
class ScheduleFreeAveraging(Transform):
    """Per group and step: the warmed-up lr_t, and c_{t+1}, the weight of z in the average x."""

    lr: str = "lr"
    warmup: str = "warmup_steps"
    r: str = "r"
    power: str = "weight_lr_power"
    beta2: str = "beta2"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (
            Bound(self.lr),
            Bound(self.warmup, integer=True),
            Bound(self.r),
            Bound(self.power),
        )

    def group_state(self) -> dict[str, Any]:
        return {"k": 0, "train_mode": True, "weight_sum": 0.0, "lr_max": -1.0, "scheduled_lr": 0.0}

    def prepare_group(
        self, scalars: dict[str, Any], group: dict[str, Any], param_groups: list[dict[str, Any]]
    ) -> None:
        if not group["train_mode"]:
            raise RuntimeError(
                "Schedule-Free's optimizer is in eval mode: call optimizer.train() before step()"
            )
        k, warmup = group["k"], group[self.warmup]
        schedule = (k + 1) / warmup if k < warmup else 1.0
        lr = group["scheduled_lr"] = group[self.lr] * schedule
        lr_max = group["lr_max"] = max(lr, group["lr_max"])
        weight = ((k + 1) ** group[self.r]) * (lr_max ** group[self.power])
        weight_sum = group["weight_sum"] = group["weight_sum"] + weight
        scalars["averaging_weight"] = weight / weight_sum if weight_sum != 0 else 0.0
        scalars["scheduled_lr"] = lr
        scalars["bias_correction2"] = 1 - group[self.beta2] ** (k + 1)
        group["k"] = k + 1

    def diagnostics(self, scalars: Mapping[str, Any], group: Mapping[str, Any]) -> dict[str, float]:
        if "averaging_weight" not in scalars:
            return {}
        return {
            "averaging_weight": scalars["averaging_weight"],
            "scheduled_lr": scalars["scheduled_lr"],
            "weight_sum": group["weight_sum"],
        }


@dataclass(frozen=True)
class ScheduleFreeStep(Transform):
    """n = g / (sqrt(v / (1 - beta2^t)) + eps) + wd * y; y <- lerp(y, z, c) + lr (beta1 (1 - c)
    - 1) n; z <- z - lr n: the z step and the move of y that keeps y = lerp(z, x, beta1)."""

    beta1: str = "beta1"
    eps: str = "eps"
    key: str = "weight_decay"

    def bounds(self) -> tuple[Hyperparameter, ...]:
        return (
            Bound(
                self.beta1, low=0.0, low_inclusive=False, high=1.0, reason="eval() divides by it"
            ),
            Bound(self.eps, low_inclusive=False, reason="it divides by sqrt(v)+eps"),
            Bound(self.key),
        )

    def buffer_names(self, param: Tensor, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("z",)

    def make_buffer(self, name: str, param: Tensor) -> Tensor:
        return torch.clone(param, memory_format=torch.preserve_format)  # z starts at x = y

    def apply(self, ctx: StepContext) -> None:
        ops, scalars = ctx.ops, ctx.scalars
        lr, weight = scalars["scheduled_lr"], scalars["averaging_weight"]
        denominator = ops.div_scalar(ctx.state["exp_avg_sq"], scalars["bias_correction2"])
        ops.sqrt_(denominator)
        ops.add_scalar_(denominator, ctx.hp[self.eps])
        normalized = ops.rdiv(denominator, ctx.grad)  # g / denominator
        if not ctx.zero[self.key]:
            ops.add_(normalized, ctx.params, alpha=ctx.hp[self.key])  # decay at y
        ops.lerp_(ctx.params, ctx.state["z"], weight)
        ops.add_(ctx.params, normalized, alpha=lr * (ctx.hp[self.beta1] * (1 - weight) - 1))
        ops.add_(ctx.state["z"], normalized, alpha=-lr)
        ctx.second_moment = ctx.state["exp_avg_sq"]
        ctx.second_moment_correction = scalars["bias_correction2"]
        ctx.eps = ctx.hp[self.eps]


class ScheduleFreeAdamW(ChainedOptimizer):
    """AdamW without a schedule: call `eval()` before evaluating, `train()` before stepping."""

    chain = (ScheduleFreeAveraging(), SecondMomentEMA(), ScheduleFreeStep())
    default_hyperparameters = {
        "lr": 0.0025,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "warmup_steps": 0,
        "r": 0.0,
        "weight_lr_power": 2.0,
    }

    @torch.no_grad()
    def eval(self) -> None:
        """Parameters to x, the average: the point to validate, test and save."""
        self._switch(train=False)

    @torch.no_grad()
    def train(self) -> None:
        """Parameters to y, where gradients are taken."""
        self._switch(train=True)

    def _switch(self, train: bool) -> None:
        for group in self.param_groups:
            if group["train_mode"] == train:
                continue
            beta1 = group["beta1"]
            weight = 1 - beta1 if train else 1 - 1 / beta1
            for param in group["params"]:
                state = self.state.get(param, {})
                if "z" in state:
                    param.lerp_(end=state["z"].to(param.device), weight=weight)
            group["train_mode"] = train
