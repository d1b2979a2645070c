"""Heartbeats for every storage: Optuna's own on RDB storages, the sweeper's on a journal.

Optuna's journal storage keeps no heartbeats, so a killed trial would stay RUNNING forever.
There the sweeper records its own: the time of the last beat as a trial system attribute, and
a RUNNING trial whose last beat is older than the grace period is failed, like Optuna's
`fail_stale_trials` does on an RDB storage.
"""

from __future__ import annotations

import time

import optuna
from optuna.storages import BaseStorage, fail_stale_trials
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import TrialState

HEARTBEAT_ATTR = "research:heartbeat"  # seconds since the epoch of the last beat


def _optuna_beats(storage: BaseStorage) -> bool:
    return is_heartbeat_enabled(storage)


def record_heartbeat(storage: BaseStorage, trial_id: int) -> None:
    if _optuna_beats(storage):
        storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
    else:
        storage.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())


def fail_stale(study: optuna.Study, grace_period: float) -> None:
    """FAIL the RUNNING trials whose process stopped beating (call under the study lock)."""
    storage = study._storage
    if _optuna_beats(storage):
        fail_stale_trials(study)
        return
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        last = trial.system_attrs.get(HEARTBEAT_ATTR)
        if last is not None and now - float(last) > grace_period:
            try:
                storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # its sweep told a verdict in the meantime
