"""A trial its sweep lost (killed, stopped) whose run finished anyway: the next sweep records
the run's result, instead of resuming a finished checkpoint into an error that counts."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from research.sweep.counts import FAIL_KIND, count_trials
from research.sweep.retry import OUTPUT_DIR, RESUME_FROM, RETRY_OF, retry_lost


def lost_trial(study: optuna.Study, run_dir: Path, record: dict | None) -> int:
    """A trial as a killed sweep leaves it: FAIL, fail_kind lost, its run folder recorded."""
    trial = study.ask({"lr": FloatDistribution(1e-4, 1e-1, log=True)})
    trial.set_user_attr(OUTPUT_DIR, str(run_dir))
    trial.set_user_attr(FAIL_KIND, "lost")
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"checkpoint")
    if record is not None:
        (run_dir / "results.json").write_text(json.dumps(record))
    study.tell(trial, state=TrialState.FAIL)
    return trial.number


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    return optuna.create_study(study_name="s", storage=storage, direction="maximize")


def test_a_finished_run_is_recorded_with_its_value(study: optuna.Study, tmp_path: Path) -> None:
    record = {"status": "completed", "optimized_value": 0.875, "reason": None}
    number = lost_trial(study, tmp_path / "run", record)
    retry_lost(study, max_retry=1)
    retry = study.trials[-1]
    assert retry.state == TrialState.COMPLETE and retry.value == 0.875
    assert retry.user_attrs[RETRY_OF] == number
    assert FAIL_KIND not in retry.user_attrs and RESUME_FROM not in retry.user_attrs
    assert retry.params == study.trials[number].params
    counts = count_trials(study.trials)
    assert (counts.counted, counts.complete, counts.failed, counts.lost) == (1, 1, 0, 1)
    retry_lost(study, max_retry=1)
    assert len(study.trials) == 2, "recorded once"


def test_a_diverged_run_counts_as_diverged(study: optuna.Study, tmp_path: Path) -> None:
    record = {"status": "diverged", "optimized_value": None, "reason": "training loss is nan"}
    lost_trial(study, tmp_path / "run", record)
    retry_lost(study, max_retry=1)
    retry = study.trials[-1]
    assert retry.state == TrialState.FAIL and retry.user_attrs[FAIL_KIND] == "diverged"
    assert count_trials(study.trials).failed == 1


@pytest.mark.parametrize(
    "record",
    [None, {"status": "failed", "reason": "RunInterrupted: interrupted by SIGTERM"}, ["not", 1]],
)
def test_an_unfinished_run_runs_again_from_its_checkpoint(
    study: optuna.Study, tmp_path: Path, record: object
) -> None:
    run_dir = tmp_path / "run"
    lost_trial(study, run_dir, record)  # type: ignore[arg-type]
    retry_lost(study, max_retry=1)
    queued = study.trials[-1]
    assert queued.state == TrialState.WAITING
    assert queued.user_attrs[RESUME_FROM] == str(run_dir / "checkpoints" / "last.ckpt")


def test_a_completed_run_without_a_finite_value_is_a_counted_error(
    study: optuna.Study, tmp_path: Path
) -> None:
    lost_trial(study, tmp_path / "run", {"status": "completed", "optimized_value": None})
    retry_lost(study, max_retry=1)
    retry = study.trials[-1]
    assert retry.state == TrialState.FAIL and retry.user_attrs[FAIL_KIND] == "error"
