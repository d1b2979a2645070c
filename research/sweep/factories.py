"""Samplers and pruners from their config nodes: `{name: tpe, <constructor arguments>...}`, or
Hydra's form `{_target_: optuna.samplers.RandomSampler, seed: 123}` (any Optuna sampler or
pruner class, or any other class with their interface).

Keys the chosen class does not take are dropped with a warning: a search config may tune
`n_startup_trials` for TPE and still run with `hydra/sweeper/sampler=random`.

A pruner spec is also stored on the study, so that a trial running in another process (or on
another machine) rebuilds the same pruner from the storage alone.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any

import optuna
from hydra.utils import get_class
from optuna.pruners import BasePruner
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
}

PRUNERS: dict[str, type[BasePruner]] = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
}


def make_sampler(
    spec: Mapping[str, Any] | None, space: SearchSpace, seed: int | None
) -> BaseSampler:
    cls, options = _lookup(SAMPLERS, spec or {"name": "tpe"}, "sampler")
    if cls is optuna.samplers.GridSampler:
        cls = AskTellGridSampler
    if cls is AskTellGridSampler and "search_space" not in options:
        options["search_space"] = space.grid()
    if "seed" in inspect.signature(cls).parameters and options.get("seed") is None:
        options["seed"] = seed
    return cls(**options)


def make_pruner(spec: Mapping[str, Any] | None) -> BasePruner:
    cls, options = _lookup(PRUNERS, spec or {"name": "none"}, "pruner")
    return cls(**options)


def _lookup(table: Mapping[str, Any], spec: Mapping[str, Any], kind: str) -> tuple[Any, dict]:
    """The class named by spec["_target_"] or spec["name"], and the spec's options it accepts."""
    options = dict(spec)
    name = options.pop("name", None)
    target = options.pop("_target_", None)
    if target is not None:
        try:
            cls = get_class(str(target))
        except Exception as error:
            raise ConfigError(f"{kind} _target_={target!r} is not a class: {error}") from None
        name = cls.__name__
    elif name in table:
        cls = table[name]
    else:
        raise ConfigError(f"unknown {kind} {name!r}; choose one of {', '.join(table)}")
    accepted = inspect.signature(cls).parameters
    ignored = sorted(set(options) - set(accepted))
    if ignored:
        log.warning("The %s %s takes no %s: ignored", name, kind, ", ".join(ignored))
    return cls, {k: v for k, v in options.items() if k in accepted}
