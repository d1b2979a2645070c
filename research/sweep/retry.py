"""Lost trials run again: a trial that ended without a verdict (killed, cancelled, preempted,
heartbeat expired) does not count, and its parameters are enqueued once more, resuming from
the lost run's last checkpoint when it left one."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState, create_trial

from research.sweep.counts import FAIL_KIND, FAIL_REASON, is_counted_failure
from research.sweep.outcome import objective_values
from research.tracking.results import RESULTS_FILE

log = logging.getLogger(__name__)

RETRY_OF = "retry_of"  # user attribute of a retry: the number of the trial it repeats
RETRIES = "retries"  # how many lost trials precede it in its chain
RESUME_FROM = "resume_from"  # the lost run's last checkpoint, if it left one
OUTPUT_DIR = "output_dir"  # set by the run itself when it starts, and by the sweeper at the end
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"


def retry_lost(study: optuna.Study, max_retry: int) -> None:
    """Enqueue each lost trial's parameters once (call under the study lock)."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get(RETRY_OF) for t in trials}
    for trial in trials:
        if trial.state != TrialState.FAIL or is_counted_failure(trial) or trial.number in retried:
            continue
        retries = int(trial.user_attrs.get(RETRIES, 0))
        if retries >= max_retry:
            continue
        attrs: dict[str, object] = {RETRY_OF: trial.number, RETRIES: retries + 1}
        if record_finished_run(study, trial, attrs):
            continue
        checkpoint = _last_checkpoint(trial.user_attrs.get(OUTPUT_DIR))
        if checkpoint is not None:
            attrs[RESUME_FROM] = str(checkpoint)
        study.enqueue_trial(trial.params, user_attrs=attrs, skip_if_exists=False)
        log.info("Trial %d was lost: its parameters run again%s", trial.number,
                 f", from {checkpoint}" if checkpoint else "")  # fmt: skip


def _last_checkpoint(output_dir: str | None) -> Path | None:
    if not output_dir:
        return None
    path = Path(output_dir) / LAST_CHECKPOINT
    return path if path.is_file() else None


def record_finished_run(study: optuna.Study, trial: FrozenTrial, attrs: dict[str, Any]) -> bool:
    """A trial lost by its sweep (killed, stopped) whose run went on and finished: its result
    is recorded as the retry, instead of a retry resuming from a checkpoint with no training
    left. A run's own verdict (completed, pruned, diverged) is the trial's."""
    output_dir = trial.user_attrs.get(OUTPUT_DIR)
    record = _finished_record(output_dir)
    if record is None:
        return False
    status = record["status"]
    values: tuple[float, ...] | None = None
    state = {"completed": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(status)
    extra: dict[str, Any] = {OUTPUT_DIR: output_dir}
    if status == "completed":
        values, reason = objective_values(record.get("optimized_value"), len(study.directions))
        if values is None:
            state, extra = TrialState.FAIL, {**extra, FAIL_KIND: "error", FAIL_REASON: reason}
    elif status == "diverged":
        state = TrialState.FAIL
        extra = {**extra, FAIL_KIND: "diverged", FAIL_REASON: f"diverged: {record.get('reason')}"}
    study.add_trial(
        create_trial(
            state=state,
            values=list(values) if values is not None else None,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs={**_without_verdict(trial.user_attrs), **attrs, **extra},
        )
    )
    log.info("Trial %d was lost, but its run finished (%s): its result is recorded, %s",
             trial.number, status, Path(output_dir) / RESULTS_FILE)  # fmt: skip
    return True


def _without_verdict(user_attrs: dict[str, Any]) -> dict[str, Any]:
    """The lost trial's attributes (its run folder, applied parameters), not its fail kind."""
    return {k: v for k, v in user_attrs.items() if k not in (FAIL_KIND, FAIL_REASON)}


def _finished_record(output_dir: str | None) -> dict[str, Any] | None:
    if not output_dir:
        return None
    try:
        record = json.loads((Path(output_dir) / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return None
    finished = isinstance(record, dict) and record.get("status") in (
        "completed",
        "pruned",
        "diverged",
    )
    return record if finished else None
