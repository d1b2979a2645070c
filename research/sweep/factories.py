"""Samplers and pruners from their config nodes: `{name: tpe, <constructor arguments>...}`.

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
from optuna.pruners import BasePruner
from optuna.samplers import BaseSampler

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
    if cls is AskTellGridSampler:
        options["search_space"] = space.grid()
    return cls(**{"seed": seed, **options})


def make_pruner(spec: Mapping[str, Any] | None) -> BasePruner:
    cls, options = _lookup(PRUNERS, spec or {"name": "none"}, "pruner")
    return cls(**options)


def _lookup(table: Mapping[str, Any], spec: Mapping[str, Any], kind: str) -> tuple[Any, dict]:
    """The class named by spec["name"] and the spec's options it accepts."""
    options = dict(spec)
    name = options.pop("name")
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; choose one of {', '.join(table)}")
    accepted = inspect.signature(table[name]).parameters
    ignored = sorted(set(options) - set(accepted))
    if ignored:
        log.warning("The %s %s takes no %s: ignored", name, kind, ", ".join(ignored))
    return table[name], {k: v for k, v in options.items() if k in accepted}
