"""A percentile pruner's thresholds, kept by the sweeper so that a trial's report stays flat.

Optuna's percentile (median) pruner reads every completed trial of the study at every report,
to use one number of each: its value at the reported step. Its decision needs only three
numbers: how many trials completed, how many of them reported at that step, and the percentile
of what they reported. The sweeper holds the study's finished trials in memory anyway (Optuna
caches them), so at the start of each round, under the study lock, it adds the trials
completed since (its own and other sweep processes'), recomputes those numbers for the steps
that changed and writes them to one study system attribute (under the lock, the last write has
seen every trial told before it). A trial reads that one row at each report, whatever the
study's size. A completion reaches the record when its sweeper starts its next round,
milliseconds after the `tell`. No torch or Lightning here (the sweep process imports it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
from optuna.pruners import BasePruner, PercentilePruner
from optuna.pruners._percentile import (
    _get_best_intermediate_result_over_steps,
    _is_first_in_interval_step,
)
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

THRESHOLDS_ATTR = "research:percentile_thresholds"  # study system attribute


def percentile_of(pruner: PercentilePruner, direction: StudyDirection) -> float:
    """The percentile the pruner compares against, in the study's direction (Optuna's rule)."""
    percentile = float(pruner._percentile)
    return 100 - percentile if direction == StudyDirection.MAXIMIZE else percentile


class StepThresholds:
    """The sweeper's side: what the completed trials reported at each step, and the record
    a trial reads."""

    def __init__(self, pruner: BasePruner) -> None:
        self.pruner = pruner if isinstance(pruner, PercentilePruner) else None
        self.seen: set[int] = set()
        self.reported: dict[int, list[float]] = {}
        self.record: dict[int, tuple[float | None, int]] = {}
        self.written = False

    def publish(self, study: optuna.Study) -> None:
        """Adds the trials completed since the last call and writes the record (call under the
        study lock)."""
        if self.pruner is None:
            return
        percentile = percentile_of(self.pruner, study.direction)
        changed = set()
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if self.written and len(completed) == len(self.seen):
            return  # no trial completed since the last write
        for trial in completed:
            if trial.number in self.seen:
                continue
            self.seen.add(trial.number)
            for step, value in trial.intermediate_values.items():
                self.reported.setdefault(step, []).append(value)
                changed.add(step)
        for step in changed:
            values = np.asarray(self.reported[step], dtype=float)
            level = math.nan if np.isnan(values).all() else np.nanpercentile(values, percentile)
            self.record[step] = (None if math.isnan(level) else float(level), len(values))
        value = {
            "percentile": percentile,
            "completed": len(completed),
            "steps": {str(step): list(entry) for step, entry in self.record.items()},
        }
        study._storage.set_study_system_attr(study._study_id, THRESHOLDS_ATTR, value)
        self.written = True


def should_prune(
    pruner: PercentilePruner, direction: StudyDirection, trial: FrozenTrial, record: Any
) -> bool | None:
    """Optuna's percentile rule on the published record; None when the record is not one for
    this pruner and study (the caller then asks Optuna)."""
    if not isinstance(record, dict) or record.get("percentile") != percentile_of(pruner, direction):
        return None
    completed = record["completed"]
    step = trial.last_step
    if completed == 0 or completed < pruner._n_startup_trials or step is None:
        return False
    warmup = pruner._n_warmup_steps
    if step < warmup or not _is_first_in_interval_step(
        step, trial.intermediate_values.keys(), warmup, pruner._interval_steps
    ):
        return False
    best = _get_best_intermediate_result_over_steps(trial, direction)
    if math.isnan(best):
        return True
    level, count = record["steps"].get(str(step), (None, 0))
    if level is None or count < pruner._n_min_trials:
        return False
    return bool(best < level if direction == StudyDirection.MAXIMIZE else best > level)
