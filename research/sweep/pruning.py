"""A running trial's side of the study: report a value, ask whether to prune.

Optuna's `trial.should_prune()` hands the pruner the whole study, and its percentile (median)
pruner reads every completed trial at every report: from a fresh process, about 0.4 ms per
trial in the study. Here a percentile pruner reads instead the thresholds the sweeper publishes
(`thresholds`): one row, whatever the study's size. Other pruners (Hyperband, successive
halving, a class of one's own), and a study without that record, get Optuna's
`should_prune()`. Either way the storage is opened once per process and URL.

No torch or Lightning here: the sweep process imports this module for its constants.
"""

from __future__ import annotations

import functools

import optuna
from optuna.pruners import PercentilePruner
from optuna.storages import BaseStorage, get_storage

from research.sweep.factories import make_pruner
from research.sweep.storage import open_storage
from research.sweep.thresholds import THRESHOLDS_ATTR, should_prune

PRUNER_ATTR = "pruner"  # study user attribute: the pruner spec the sweeper configured
STORAGE_ENV = "RESEARCH_SWEEP_STORAGE"  # set by the sweep process, inherited by its jobs
# The `_target_` of a run's `trial` node: a name, so that the sweeper imports no Lightning.
TRIAL_CALLBACKS = "research.sweep.reporting.trial_callbacks"


@functools.cache
def _storage(url: str) -> BaseStorage:
    """The storage as Optuna uses it (an RDB one behind Optuna's cache of finished trials):
    one per process, which every trial the process runs shares."""
    return get_storage(open_storage(url))


class TrialLink:
    """The running trial, with the study's own pruner (read from the storage)."""

    def __init__(self, storage_url: str, study_name: str, trial_id: int) -> None:
        self.storage = _storage(storage_url)
        self.study_id = self.storage.get_study_id_from_name(study_name)
        pruner = make_pruner(self.storage.get_study_user_attrs(self.study_id).get(PRUNER_ATTR))
        # The sampler is unused here (the sweeper sampled): the cheapest one avoids TPE set-up.
        self.study = optuna.load_study(
            study_name=study_name,
            storage=self.storage,
            pruner=pruner,
            sampler=optuna.samplers.RandomSampler(),
        )
        self.trial_id = trial_id
        self.trial = optuna.trial.Trial(self.study, trial_id)

    def report(self, value: float, step: int) -> bool:
        """Records `value` at `step`; True when the study's pruner says stop."""
        self.trial.report(value, step=step)
        pruner = self.study.pruner
        if isinstance(pruner, PercentilePruner):
            record = self.storage.get_study_system_attrs(self.study_id).get(THRESHOLDS_ATTR)
            trial = self.storage.get_trial(self.trial_id)
            decided = should_prune(pruner, self.study.direction, trial, record)
            if decided is not None:
                return decided
        return bool(self.trial.should_prune())
