"""What one optimizer step did, for a researcher studying beta1, beta2 and lr.

`OptimizerProbe` works with any torch.optim.Optimizer: the project's optimizers report exactly
what their step divided by; torch's Adam/AdamW/NAdam/RMSprop/Adagrad are read from their state;
others get the metrics that need no second moment. Nothing runs unless a probe is used, so a
training loop pays only on the steps it logs:

    probe = OptimizerProbe(optimizer)
    probe.before_step()             # after backward(), before step()
    optimizer.step()
    metrics = probe.after_step()    # {"optim/group0/update_rms_ratio": ..., "optim/lr": ...}

Per param group (`optim/group{i}/...`): lr, grad_norm, param_rms, update_rms,
update_rms_ratio; `{beta1,beta2,rho,momentum}_window` = 1 / (1 - coefficient), the number of
steps an EMA effectively averages over (seeds claim 4); bias_correction1/2 = 1 - beta^t at the
step's t (seeds claim 7); v_hat_mean and the effective learning rate lr / (sqrt(v_hat) + eps)
as eff_lr_mean/p5/p95; and for the Adam family the paper's per-coordinate step bound
lr * max(1, (1 - beta1) / sqrt(1 - beta2)) (seeds claim 6) with step_bound_fraction, the share
of coordinates whose |step| is within 1% of it, and max_step_to_bound. The same names without
`group{i}/` aggregate over all groups (lr, windows and the rule's own scalars from group 0).

What is specific to a rule, for the project's optimizers and their reference implementations:
Prodigy's `d` (after the step), `d_hat` and `effective_lr` (d * lr, the next step's size
before bias correction);
Schedule-Free's `averaging_weight` (c_{t+1}, the weight of z in the average x),
`scheduled_lr` and `weight_sum`; Adafactor's `relative_step` (min(lr, 1 / sqrt(t))); RAdam's
`rectification` (r_t, 0 until rho_t > 5) and `sma_length` (rho_t); and for every matrix Muon
updates, `optim/muon/<parameter name>/update_rms` and `.../update_rms_ratio`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from research.optim.base import ChainedOptimizer, SecondMomentRecord

_AT_BOUND = 0.99  # a step counts as at the bound when |step| >= 99% of it
_RULE_SCALARS = {
    "d",
    "d_hat",
    "effective_lr",
    "averaging_weight",
    "scheduled_lr",
    "weight_sum",
    "relative_step",
    "rectification",
    "sma_length",
}


class OptimizerProbe:
    """Measures the next step of `optimizer`: call before_step(), step, then after_step()."""

    def __init__(self, optimizer: Optimizer, prefix: str = "optim/", max_samples: int = 1 << 20):
        self.optimizer = optimizer
        self.prefix = prefix
        self.max_samples = max_samples  # quantiles are estimated from at most this many values
        self._generator = torch.Generator().manual_seed(0)
        self._before: list[list[tuple[Tensor, Tensor]]] | None = None
        self._grad_norms: list[float] = []

    def before_step(self) -> None:
        """Snapshot the parameters that will be updated, and ask for the step's record."""
        self._before = [
            [(p, p.detach().clone()) for p in group["params"] if p.grad is not None]
            for group in self.optimizer.param_groups
        ]
        self._grad_norms = [
            math.sqrt(sum(float(p.grad.detach().float().square().sum()) for p, _ in pairs))
            for pairs in self._before
        ]
        if isinstance(self.optimizer, ChainedOptimizer):
            self.optimizer.record_next_step()

    @torch.no_grad()
    def after_step(self) -> dict[str, float]:
        """The metrics of the step since before_step(), keyed `<prefix>...`."""
        if self._before is None:
            raise RuntimeError("OptimizerProbe.after_step() needs a before_step() first")
        metrics: dict[str, float] = {}
        totals = {"update_sq": 0.0, "param_sq": 0.0}
        pooled: dict[str, list[Tensor]] = {"eff_lr": [], "step_to_bound": []}
        for index, (group, pairs) in enumerate(
            zip(self.optimizer.param_groups, self._before, strict=True)
        ):
            group_metrics, update_sq, param_sq, tensors = self._group(index, group, pairs)
            metrics.update({f"group{index}/{k}": v for k, v in group_metrics.items()})
            if index == 0:
                metrics.update(
                    {k: v for k, v in group_metrics.items() if k == "lr" or "window" in k}
                )
            totals["update_sq"] += update_sq
            totals["param_sq"] += param_sq
            for name, values in tensors.items():
                pooled[name].append(values)
            if index == 0:
                metrics.update({k: v for k, v in group_metrics.items() if k in _RULE_SCALARS})
            metrics.update(_per_matrix(self.optimizer, index, group, pairs))
        metrics["grad_norm"] = math.sqrt(sum(n * n for n in self._grad_norms))
        if totals["param_sq"] > 0:
            metrics["update_rms_ratio"] = math.sqrt(totals["update_sq"] / totals["param_sq"])
        if pooled["eff_lr"]:
            metrics.update(self._distribution("eff_lr", torch.cat(pooled["eff_lr"])))
        if pooled["step_to_bound"]:
            metrics.update(self._bound_metrics(torch.cat(pooled["step_to_bound"])))
        self._before = None
        return {f"{self.prefix}{k}": v for k, v in metrics.items()}

    def _group(
        self, index: int, group: Mapping[str, Any], pairs: list[tuple[Tensor, Tensor]]
    ) -> tuple[dict[str, float], float, float, dict[str, Tensor]]:
        lr = float(group["lr"])
        metrics = {"lr": lr, "grad_norm": self._grad_norms[index]}
        tensors: dict[str, Tensor] = {}
        if not pairs:
            return metrics, 0.0, 0.0, tensors
        updates = torch.cat([(p.detach() - before).flatten().float() for p, before in pairs])
        param_sq = float(sum(before.float().square().sum() for _, before in pairs))
        update_sq = float(updates.square().sum())
        count = updates.numel()
        metrics["update_rms"] = math.sqrt(update_sq / count)
        metrics["param_rms"] = math.sqrt(param_sq / count)
        if param_sq > 0:
            metrics["update_rms_ratio"] = math.sqrt(update_sq / param_sq)

        coefficients = _coefficients(self.optimizer, group)
        for name, value in coefficients.items():
            metrics[f"{name}_window"] = 1.0 / (1.0 - value) if value < 1 else math.inf
        record = _second_moments(self.optimizer, index, group, [p for p, _ in pairs])
        metrics.update(record.scalars or _reference_scalars(self.optimizer, group, pairs))
        if record.step > 0:
            for i, name in ((1, "beta1"), (2, "beta2")):
                if name in coefficients:
                    metrics[f"bias_correction{i}"] = 1.0 - coefficients[name] ** record.step
        if record.tensors and record.eps is not None:
            v_hat = torch.cat([v.detach().flatten().float() for v in record.tensors])
            if record.correction is not None:
                v_hat = v_hat / record.correction
            eff_lr = lr / (v_hat.sqrt() + record.eps)
            metrics["v_hat_mean"] = float(v_hat.mean())
            metrics.update(self._distribution("eff_lr", eff_lr))
            tensors["eff_lr"] = eff_lr
        if {"beta1", "beta2"} <= coefficients.keys() and lr > 0:
            beta1, beta2 = coefficients["beta1"], coefficients["beta2"]
            bound = lr * max(1.0, (1 - beta1) / math.sqrt(1 - beta2))
            step_to_bound = updates.abs() / bound
            metrics["step_bound"] = bound
            metrics.update(self._bound_metrics(step_to_bound))
            tensors["step_to_bound"] = step_to_bound
        return metrics, update_sq, param_sq, tensors

    def _distribution(self, name: str, values: Tensor) -> dict[str, float]:
        sample = values
        if values.numel() > self.max_samples:
            picks = torch.randint(values.numel(), (self.max_samples,), generator=self._generator)
            sample = values[picks.to(values.device)]
        levels = torch.tensor([0.05, 0.95], dtype=torch.float64, device=sample.device)
        p5, p95 = torch.quantile(sample.double(), levels)
        return {
            f"{name}_mean": float(values.mean()),
            f"{name}_p5": float(p5),
            f"{name}_p95": float(p95),
        }

    @staticmethod
    def _bound_metrics(step_to_bound: Tensor) -> dict[str, float]:
        return {
            "step_bound_fraction": float((step_to_bound >= _AT_BOUND).float().mean()),
            "max_step_to_bound": float(step_to_bound.max()),
        }


def _coefficients(optimizer: Optimizer, group: Mapping[str, Any]) -> dict[str, float]:
    """The group's EMA coefficients under the project's names (torch's betas, alpha mapped)."""
    found: dict[str, float] = {}
    if "betas" in group:
        found["beta1"], found["beta2"] = (float(b) for b in group["betas"])
    if isinstance(optimizer, torch.optim.RMSprop):
        found["rho"] = float(group["alpha"])
    for name in ("beta1", "beta2", "rho", "momentum"):
        if name in group:
            found[name] = float(group[name])
    return found


def _second_moments(
    optimizer: Optimizer, index: int, group: Mapping[str, Any], params: list[Tensor]
) -> SecondMomentRecord:
    """What the step divided by: recorded by the project's optimizers, rebuilt for torch's."""
    if isinstance(optimizer, ChainedOptimizer):
        records = optimizer.last_records
        return records[index] if records is not None else SecondMomentRecord(step=0)
    states = [optimizer.state[p] for p in params if optimizer.state.get(p)]
    if not states or "step" not in states[0]:
        return SecondMomentRecord(step=0)
    step = int(float(states[0]["step"]))
    if isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW | torch.optim.NAdam):
        key = "max_exp_avg_sq" if group.get("amsgrad") else "exp_avg_sq"
        correction = 1.0 - float(group["betas"][1]) ** step
    elif isinstance(optimizer, torch.optim.RMSprop) and not group["centered"]:
        key, correction = "square_avg", None
    elif isinstance(optimizer, torch.optim.Adagrad):
        key, correction = "sum", None
    else:
        return SecondMomentRecord(step=step)
    tensors = [state[key] for state in states]
    return SecondMomentRecord(step, tensors, correction, float(group["eps"]))


def _is_muon_group(optimizer: Optimizer, group: Mapping[str, Any]) -> bool:
    if "rule" in group:  # the project's Muon: its matrices' groups
        return group["rule"] == "muon"
    return isinstance(optimizer, getattr(torch.optim, "Muon", ()))


def _per_matrix(
    optimizer: Optimizer, index: int, group: Mapping[str, Any], pairs: list[tuple[Tensor, Tensor]]
) -> dict[str, float]:
    """Update RMS (and its ratio to the parameter's RMS) of each matrix Muon updates."""
    if not _is_muon_group(optimizer, group) or not pairs:
        return {}
    names = group.get("param_names")
    metrics = {}
    for param, before in pairs:
        if param.dim() < 2:
            continue
        where = next(i for i, p in enumerate(group["params"]) if p is param)
        label = names[where] if names else f"group{index}.{where}"
        update = (param.detach() - before).float()
        rms = float(update.square().mean().sqrt())
        metrics[f"muon/{label}/update_rms"] = rms
        param_rms = float(before.float().square().mean().sqrt())
        if param_rms > 0:
            metrics[f"muon/{label}/update_rms_ratio"] = rms / param_rms
    return metrics


def _reference_scalars(
    optimizer: Optimizer, group: Mapping[str, Any], pairs: list[tuple[Tensor, Tensor]]
) -> dict[str, float]:
    """The rule's scalars, read from the state the reference implementations keep."""
    if "d_max" in group and "d" in group:  # prodigyopt.Prodigy
        scalars = {"d": float(group["d"]), "effective_lr": float(group["d"]) * float(group["lr"])}
        return scalars | ({"d_hat": float(group["d_hat"])} if "d_hat" in group else {})
    if {"weight_sum", "lr_max", "k"} <= group.keys() and group["weight_sum"]:  # schedulefree
        weight = group["k"] ** group.get("r", 0.0) * group["lr_max"] ** group["weight_lr_power"]
        return {
            "averaging_weight": weight / group["weight_sum"],
            "scheduled_lr": float(group.get("scheduled_lr", group["lr"])),
            "weight_sum": float(group["weight_sum"]),
        }
    if isinstance(optimizer, getattr(torch.optim, "Adafactor", ())) and pairs:
        step = float(optimizer.state[pairs[0][0]]["step"])
        return {"relative_step": min(float(group["lr"]), 1 / step**0.5)}
    return {}
