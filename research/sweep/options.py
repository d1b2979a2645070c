"""The sweeper's own values (`hydra.sweeper.*`), its sampler's and its pruner's, checked when
the sweeper is built: before any sweep folder, storage file or study exists. A sweep of
nothing (n_trials=0), a negative number of parallel jobs or a failure rate above 1 is one
line naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import OmegaConf

from research.config.errors import ConfigError
from research.config.rules import (
    UINT32_MAX,
    AnyOf,
    Flag,
    Number,
    OneOf,
    Rule,
    Text,
    check_fields,
)

COUNT = Number(low=1, integer=True)
AT_LEAST_ZERO = Number(low=0, integer=True)
PROBABILITY = Number(low=0, high=1)

RULES: dict[str, Rule] = {
    "study_name": Text(null="the hparams_search choice, else task_name or the job name"),
    "storage": Text(null="optuna/studies.db under the working directory"),
    "n_trials": COUNT,
    "n_jobs": Number(low=1, integer=True, null="the launcher's n_jobs"),
    "seed": Number(low=0, high=UINT32_MAX, integer=True, null="random"),
    "max_failure_rate": PROBABILITY,
    "heartbeat_interval": Number(low=1, integer=True, why="seconds"),
    "grace_period": Number(low=1, integer=True, why="seconds"),
    "retry_killed": AT_LEAST_ZERO,
    "gpus_per_trial": Number(low=1, integer=True, null="visible GPUs // n_jobs"),
    "custom_search_space": Text(null="none"),
}

SAMPLER_RULES: dict[str, dict[str, Rule]] = {
    "tpe": {
        "n_startup_trials": AT_LEAST_ZERO,
        "n_ei_candidates": COUNT,
        "multivariate": Flag(),
        "constant_liar": Flag(),
        "group": Flag(),
    },
    "qmc": {"qmc_type": OneOf(("sobol", "halton")), "scramble": Flag()},
    "gp": {"n_startup_trials": AT_LEAST_ZERO, "deterministic_objective": Flag()},
    "cmaes": {
        "n_startup_trials": AT_LEAST_ZERO,
        "sigma0": Number(low=0, low_open=True, null="Optuna's choice"),
        "with_margin": Flag(),
    },
    "nsgaii": {
        "population_size": Number(low=2, integer=True),
        "mutation_prob": Number(low=0, high=1, null="1 / number of parameters"),
        "crossover_prob": PROBABILITY,
        "swapping_prob": PROBABILITY,
    },
}
AUTO_OR_COUNT = AnyOf((OneOf(("auto",)), COUNT), "auto or an integer >= 1")
PRUNER_RULES: dict[str, dict[str, Rule]] = {
    "median": {
        "n_startup_trials": AT_LEAST_ZERO,
        "n_warmup_steps": AT_LEAST_ZERO,
        "interval_steps": COUNT,
        "n_min_trials": COUNT,
    },
    "hyperband": {
        "min_resource": COUNT,
        "max_resource": AUTO_OR_COUNT,
        "reduction_factor": Number(low=2, integer=True),
    },
    "successive_halving": {
        "min_resource": AUTO_OR_COUNT,
        "reduction_factor": Number(low=2, integer=True),
        "min_early_stopping_rate": AT_LEAST_ZERO,
    },
}


def check_sweeper(options: Mapping[str, Any]) -> None:
    """Everything `hydra.sweeper` holds that has a rule; light enough (no Optuna, no torch)
    to run before the sweeper itself is imported."""
    plain = {k: _plain(v) for k, v in options.items()}
    check_options(plain)
    check_sampler(plain.get("sampler"))
    check_pruner(plain.get("pruner"))


def check_options(options: Mapping[str, Any]) -> None:
    """The sweeper's values one by one, then the two that only make sense together."""
    check_fields("hydra.sweeper", options, RULES)
    heartbeat, grace = options.get("heartbeat_interval"), options.get("grace_period")
    if heartbeat is not None and grace is not None and grace <= heartbeat:
        raise ConfigError(
            f"hydra.sweeper.grace_period={grace} is invalid: must exceed "
            f"heartbeat_interval={heartbeat}, or live trials would be taken for killed ones"
        )


def check_component(kind: str, spec: Mapping[str, Any] | None, rules: dict) -> None:
    """A sampler or pruner given by name ({name: tpe, ...}): its options' values."""
    if spec and spec.get("_target_") is None:
        check_fields(f"hydra.sweeper.{kind}", spec, rules.get(str(spec.get("name")), {}))


def check_sampler(spec: Mapping[str, Any] | None) -> None:
    check_component("sampler", spec, SAMPLER_RULES)


def check_pruner(spec: Mapping[str, Any] | None) -> None:
    check_component("pruner", spec, PRUNER_RULES)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
