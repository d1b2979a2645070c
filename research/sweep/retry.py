"""Lost trials run again: a trial that ended without a verdict (killed, cancelled, preempted,
heartbeat expired) does not count, and its parameters are enqueued once more, resuming from
the lost run's last checkpoint when it left one."""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
from optuna.trial import TrialState

from research.sweep.counts import is_counted_failure

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
