"""The run's own top-level values: its seed, what it returns to a sweeper, what it resumes
from, and how it watches its loss."""

from __future__ import annotations

import re
from typing import Any

from omegaconf import DictConfig

from research.config.errors import ConfigError
from research.config.objectives import metric_names
from research.config.rules import (
    UINT32_MAX,
    AnyOf,
    ExistingFile,
    Flag,
    Number,
    OneOf,
    Rule,
    Text,
    Texts,
    check_fields,
)

# Lightning seeds numpy, whose seeds are unsigned 32-bit integers
SEED = Number(low=0, high=UINT32_MAX, integer=True)
COUNT = Number(low=1, integer=True)
# epoch metrics only: `train/loss` is the mean of the last logging window, never a final value
METRIC = re.compile(r"^(train/(loss_epoch|acc)|(val|test)/(loss|acc))$")

RULES: dict[str, Rule] = {
    "seed": SEED,
    "task_name": Text(),
    "tags": Texts(),
    "test": Flag(),
    "check_finite_every_n_steps": COUNT,
    "divergence_factor": Number(low=1, null="NaN/inf only"),
    "steps_per_batch": COUNT,
    "torch_threads": Number(low=1, integer=True, null="the cores free when it starts"),
    "ckpt_path": AnyOf(
        (OneOf((None, "last")), ExistingFile()),
        "null, last (<output_dir>/checkpoints/last.ckpt) or the path of an existing checkpoint",
    ),
}


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


def check_test_metric(cfg: DictConfig) -> None:
    """A test metric to return needs the test split evaluated."""
    tested = [n for n in metric_names(cfg.optimized_metric) if n.startswith("test/")]
    if tested and cfg.get("test") is False:
        raise ConfigError(
            f"test=false is invalid with optimized_metric={tested[0]}: the run would have no "
            "test metrics to return; set test=true or optimize a val/ metric"
        )


def check(cfg: DictConfig) -> None:
    check_fields("", cfg, RULES)
    check_optimized_metric(cfg.optimized_metric)
    check_test_metric(cfg)
