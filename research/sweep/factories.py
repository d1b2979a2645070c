"""Samplers and pruners from their config nodes: `{name: tpe, <constructor arguments>...}`, or
Hydra's form `{_target_: optuna.samplers.RandomSampler, seed: 123}` (any Optuna sampler or
pruner class, or any other class with their interface).

Keys the chosen class does not take are dropped with a warning (none for a class that takes
nothing, such as no pruning): a search config may tune `n_startup_trials` for TPE and still
run with `hydra/sweeper/sampler=random`.

A pruner spec is also stored on the study, so that a trial running in another process (or on
another machine) rebuilds the same pruner from the storage alone.

A multi-objective study takes no pruner (Optuna's `trial.report` refuses several objectives)
and no CMA-ES sampler (single-objective only): both are refused before the sweep starts.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any

import optuna
from hydra.utils import get_class
from optuna.pruners import BasePruner, NopPruner
from optuna.samplers import BaseSampler

from research.config.errors import ConfigError
from research.sweep.space import SearchSpace

log = logging.getLogger(__name__)


class AskTellGridSampler(optuna.samplers.GridSampler):
    """GridSampler stops `study.optimize` once the grid is covered, and `Study.stop` raises
    outside of it; the sweeper's ask/tell loop ends at the grid size instead."""

    def after_trial(self, *args: Any, **kwargs: Any) -> None:
        return None


SAMPLERS: dict[str, type[BaseSampler]] = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "qmc": optuna.samplers.QMCSampler,
    "gp": optuna.samplers.GPSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    "grid": AskTellGridSampler,
    "nsgaii": optuna.samplers.NSGAIISampler,
}
SINGLE_OBJECTIVE = (optuna.samplers.CmaEsSampler,)  # samplers a multi-objective study refuses
DEFAULT_SAMPLER = {"name": "tpe"}  # as Hydra's plugin: for one objective or several

PRUNERS: dict[str, type[BasePruner]] = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
}
DEFAULT_PRUNER = {"name": "none"}


def make_sampler(
    spec: Mapping[str, Any] | None, space: SearchSpace, seed: int | None
) -> BaseSampler:
    cls, options = _lookup(SAMPLERS, spec or DEFAULT_SAMPLER, "sampler")
    if cls is optuna.samplers.GridSampler:
        cls = AskTellGridSampler
    if cls is AskTellGridSampler and "search_space" not in options:
        options["search_space"] = space.grid()
    if "seed" in inspect.signature(cls).parameters and options.get("seed") is None:
        options["seed"] = seed
    return cls(**options)


def make_pruner(spec: Mapping[str, Any] | None) -> BasePruner:
    cls, options = _lookup(PRUNERS, spec or DEFAULT_PRUNER, "pruner")
    return cls(**options)


def check_several_objectives(
    directions: list[str], sampler: Mapping[str, Any] | None, pruner: Mapping[str, Any] | None
) -> None:
    """A list of directions with a pruner, or with a sampler that takes one objective: one
    line naming what is allowed."""
    if len(directions) < 2:
        return
    n = len(directions)
    if not issubclass(_class(PRUNERS, pruner or DEFAULT_PRUNER, "pruner"), NopPruner):
        raise ConfigError(
            f"hydra.sweeper.pruner={_name(pruner)} cannot prune a search with {n} directions "
            "(Optuna prunes single-objective studies only): use hydra/sweeper/pruner=none"
        )
    if issubclass(_class(SAMPLERS, sampler or DEFAULT_SAMPLER, "sampler"), SINGLE_OBJECTIVE):
        allowed = ", ".join(k for k, c in SAMPLERS.items() if not issubclass(c, SINGLE_OBJECTIVE))
        raise ConfigError(
            f"hydra.sweeper.sampler={_name(sampler)} cannot search {n} directions "
            f"(it takes one objective): use one of {allowed}"
        )


def _name(spec: Mapping[str, Any] | None) -> str:
    return str((spec or {}).get("_target_") or (spec or {}).get("name"))


def _lookup(table: Mapping[str, Any], spec: Mapping[str, Any], kind: str) -> tuple[Any, dict]:
    """The class named by spec["_target_"] or spec["name"], and the spec's options it accepts."""
    cls = _class(table, spec, kind)
    name = cls.__name__ if spec.get("_target_") is not None else spec.get("name")
    options = {k: v for k, v in spec.items() if k not in ("name", "_target_")}
    accepted = inspect.signature(cls).parameters
    ignored = sorted(set(options) - set(accepted))
    if ignored and accepted:  # a class that takes nothing (no pruning) has nothing to misread
        log.warning("The %s %s takes no %s: ignored", name, kind, ", ".join(ignored))
    return cls, {k: v for k, v in options.items() if k in accepted}


def _class(table: Mapping[str, Any], spec: Mapping[str, Any], kind: str) -> Any:
    target, name = spec.get("_target_"), spec.get("name")
    if target is not None:
        try:
            return get_class(str(target))
        except Exception as error:
            raise ConfigError(f"{kind} _target_={target!r} is not a class: {error}") from None
    if name in table:
        return table[name]
    raise ConfigError(f"unknown {kind} {name!r}; choose one of {', '.join(table)}")
