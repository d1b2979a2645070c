"""Checks of the composed config that run before anything is imported or computed, so a bad
override costs a second, not a training run. Each failure is one line naming the field, the
value and what is allowed."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from research.config.errors import ConfigError
from research.config.objectives import metric_names

Check = tuple[Callable[[float], bool], str]

UNIT_INTERVAL_OPEN: Check = (lambda v: 0.0 <= v < 1.0, "must be in [0, 1)")
NON_NEGATIVE: Check = (lambda v: v >= 0.0, "must be >= 0")
POSITIVE: Check = (lambda v: v > 0.0, "must be > 0 (it divides the update)")

OPTIMIZER_CHECKS: dict[str, Check] = {
    "lr": NON_NEGATIVE,
    "beta1": UNIT_INTERVAL_OPEN,
    "beta2": UNIT_INTERVAL_OPEN,
    "momentum": UNIT_INTERVAL_OPEN,
    "rho": UNIT_INTERVAL_OPEN,
    "eps": POSITIVE,
    "weight_decay": NON_NEGATIVE,
}
# epoch metrics only: `train/loss` is the mean of the last logging window, never a final value
METRIC = re.compile(r"^(train/(loss_epoch|acc)|(val|test)/(loss|acc))$")


def _number(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{path}={value!r} is invalid: must be a number")
    if not math.isfinite(value):
        raise ConfigError(f"{path}={value} is invalid: must be finite")
    return float(value)


def check_optimizer(optimizer: DictConfig) -> None:
    for name, (ok, allowed) in OPTIMIZER_CHECKS.items():
        if name in optimizer and optimizer[name] is not None:
            value = _number(f"optimizer.{name}", optimizer[name])
            if not ok(value):
                raise ConfigError(f"optimizer.{name}={optimizer[name]} is invalid: {allowed}")


def check_trainer(trainer: DictConfig) -> None:
    epochs = trainer.get("max_epochs")
    steps = trainer.get("max_steps", -1)
    if epochs is not None and epochs != -1 and epochs < 1:
        raise ConfigError(
            f"trainer.max_epochs={epochs} is invalid: must be >= 1 (or -1 with max_steps)"
        )
    if epochs == -1 and (steps is None or steps < 1):
        raise ConfigError("trainer.max_epochs=-1 needs trainer.max_steps >= 1 to end the run")


def check_optimized_metric(optimized_metric: Any) -> None:
    """One metric name, or a list of them (a multi-objective search): each name is checked."""
    names = metric_names(optimized_metric)
    if not names:
        raise ConfigError("optimized_metric=[] is invalid: name at least one metric, e.g. val/acc")
    for name in names:
        if not METRIC.match(name):
            shown = repr(name) if len(names) == 1 else f"[{', '.join(names)}]: {name!r}"
            raise ConfigError(
                f"optimized_metric={shown} is invalid: "
                "must be an epoch metric: val/acc, val/loss, test/acc, test/loss, train/acc or "
                "train/loss_epoch"
            )


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first invalid value found."""
    if not isinstance(cfg.seed, int) or isinstance(cfg.seed, bool):
        raise ConfigError(f"seed={cfg.seed!r} is invalid: must be an integer (0 is fine)")
    check_optimized_metric(cfg.optimized_metric)
    check_optimizer(cfg.optimizer)
    check_trainer(cfg.trainer)
    batch_size = cfg.data.get("batch_size")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ConfigError(f"data.batch_size={batch_size!r} is invalid: must be an integer >= 1")
    steps = cfg.get("steps_per_batch")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ConfigError(f"steps_per_batch={steps!r} is invalid: must be an integer >= 1")
