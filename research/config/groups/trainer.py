"""Trainer values: how long a run trains (never nothing), on what, and how often it
validates; the names Lightning 2.6 takes for accelerators, strategies and precisions."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from research.config.errors import ConfigError
from research.config.groups.run import COUNT
from research.config.objectives import metric_names
from research.config.rules import (
    Flag,
    Number,
    OneOf,
    Rule,
    Text,
    check_fields,
    is_number,
    values,
)

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
STRATEGIES = (
    "auto",
    "ddp",
    "ddp_spawn",
    "ddp_fork",
    "ddp_notebook",
    "ddp_find_unused_parameters_false",
    "ddp_find_unused_parameters_true",
    "ddp_spawn_find_unused_parameters_false",
    "ddp_spawn_find_unused_parameters_true",
    "fsdp",
    "fsdp_cpu_offload",
    "deepspeed",
    "single_device",
)
PRECISIONS = (
    "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true",
    "transformer-engine", "transformer-engine-float16",
    32, 16, 64, "32", "16", "64", "bf16",
)  # fmt: skip


class Batches:
    """A batch limit per epoch: null (all), a count of batches, or a fraction of them;
    `zero` allows 0 (skip that loop)."""

    def __init__(self, zero: bool, null: str = "every batch") -> None:
        self.zero, self.null = zero, null

    def problem(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if value >= (0 if self.zero else 1):
                return None
        elif is_number(value) and (0.0 <= value <= 1.0 if self.zero else 0.0 < value <= 1.0):
            return None
        least, interval = ("0", "[0, 1]") if self.zero else ("1", "(0, 1]")
        return (
            f"must be null ({self.null}), an integer >= {least} (batches) or a fraction in "
            f"{interval}"
        )


class Devices:
    """-1 (all), a count, auto, or the indices of the devices: [0, 1] or "0,1"."""

    def problem(self, value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and (value == -1 or value >= 1):
            return None
        if value == "auto" or value == "-1":
            return None
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
            if value and all(part.isdigit() for part in value):
                return None
        elif isinstance(value, list) and value and all(_index(v) for v in value):
            return None
        return "must be -1 (all), an integer >= 1, auto, or device indices such as [0, 1]"


def _index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


RULES: dict[str, Rule] = {
    "accelerator": OneOf(ACCELERATORS),
    "strategy": OneOf(STRATEGIES),
    "devices": Devices(),
    "num_nodes": COUNT,
    "max_epochs": Number(
        low=1, integer=True, special={-1: "with max_steps"}, null="Lightning's 1000"
    ),
    "min_epochs": Number(low=0, integer=True, null="none"),
    "max_steps": Number(low=1, integer=True, special={-1: "no limit"}),
    "min_steps": Number(low=0, integer=True, null="none"),
    "limit_train_batches": Batches(zero=False),
    "limit_val_batches": Batches(zero=True),
    "limit_test_batches": Batches(zero=True),
    "val_check_interval": Batches(zero=False, null="once an epoch"),
    "check_val_every_n_epoch": Number(low=1, integer=True, null="by val_check_interval"),
    "precision": OneOf(PRECISIONS),
    "log_every_n_steps": COUNT,
    "num_sanity_val_steps": Number(low=0, integer=True, special={-1: "all"}),
    "accumulate_grad_batches": COUNT,
    "deterministic": OneOf((True, False, "warn")),
    "benchmark": Flag(null="Lightning's default"),
    "enable_model_summary": Flag(),
    "enable_progress_bar": Flag(),
    "enable_checkpointing": Flag(),
    "sync_batchnorm": Flag(),
    "gradient_clip_val": Number(low=0, null="no clipping"),
    "default_root_dir": Text(),
}


def check_length(trainer: DictConfig) -> None:
    epochs, steps = values(trainer, ["max_epochs", "max_steps"])
    if epochs == -1 and (steps is None or steps < 1):
        raise ConfigError(
            "trainer.max_epochs=-1 is invalid with max_steps=-1: set trainer.max_steps >= 1 "
            "to end the run"
        )


def check_validation(trainer: DictConfig, optimized_metric: Any) -> None:
    """A val/ metric to return needs validation to run at least once."""
    validated = [n for n in metric_names(optimized_metric) if n.startswith("val/")]
    if not validated:
        return
    limit, every, epochs = values(
        trainer, ["limit_val_batches", "check_val_every_n_epoch", "max_epochs"]
    )
    if limit == 0:
        raise ConfigError(
            f"trainer.limit_val_batches={limit} is invalid with optimized_metric={validated[0]}: "
            "the run would never validate; give a count >= 1 or a fraction in (0, 1]"
        )
    if every is not None and epochs not in (None, -1) and every > epochs:
        raise ConfigError(
            f"trainer.check_val_every_n_epoch={every} is invalid with max_epochs={epochs}: "
            f"the run would never validate, and optimized_metric={validated[0]} needs it"
        )


def check(cfg: DictConfig) -> None:
    check_fields("trainer", cfg.trainer, RULES)
    check_length(cfg.trainer)
    check_validation(cfg.trainer, cfg.optimized_metric)
