"""Optuna's journal file storage, which keeps no heartbeats of its own: the sweeper's heartbeats
find a trial whose sweep was killed, fail it (not counted) and run its point again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from research.sweep.counts import count_trials
from tests.test_sweep_e2e import STUDY, output, start_sweep, sweep


def load_journal(path: Path) -> optuna.Study:
    return optuna.load_study(
        study_name=STUDY, storage=JournalStorage(JournalFileBackend(str(path)))
    )


def wait_for_a_reporting_trial(path: Path, timeout: float) -> FrozenTrial:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                trials = load_journal(path).trials
            except KeyError:  # the study is being created
                trials = []
            for trial in trials:
                if trial.state == TrialState.RUNNING and trial.intermediate_values:
                    return trial
        time.sleep(0.2)
    raise TimeoutError("no trial started training")


def test_a_killed_sweep_on_a_journal_storage_is_detected_and_its_point_retried(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "studies.log"
    overrides = (
        f"hydra.sweeper.storage=journal://{journal}",
        "hydra.sweeper.n_trials=2",
        "trainer.max_epochs=40",
        "hydra.sweeper.heartbeat_interval=1",
        "hydra.sweeper.grace_period=3",
    )
    first = start_sweep(tmp_path, *overrides)
    try:
        killed = wait_for_a_reporting_trial(journal, timeout=120)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    time.sleep(3)  # past the grace period: its last heartbeat is stale

    proc = sweep(tmp_path, *overrides)
    assert proc.returncode == 0, output(proc)
    study = load_journal(journal)
    counts = count_trials(study.trials)
    assert (counts.counted, counts.complete, counts.running, counts.lost) == (2, 2, 0, 1)
    assert study.trials[killed.number].state == TrialState.FAIL
    retried = [t for t in study.trials if t.number > killed.number and t.params == killed.params]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
