"""A finished job's verdict for Optuna, from Hydra's JobReturn and the run's results.json.

The return value alone cannot tell a pruned run from a completed one, nor a diverged run from
a missing metric: results.json's `status` and `reason` can. A run that stopped because its
reports to the storage failed is lost (retried, not counted): the storage failed, not the trial.
A completed run returns one value per direction (a list for a multi-objective study); each must
be finite, or the trial fails.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from optuna.trial import Trial, TrialState

from research.sweep.counts import FAIL_KIND, FAIL_REASON, FailKind
from research.sweep.outage import storage_error_in
from research.tracking.results import RESULTS_FILE
from research.training.signals import interruption_in

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    state: TrialState
    values: tuple[float, ...] | None = None  # one per direction
    fail_kind: FailKind | None = None
    reason: str | None = None
    output_dir: str | None = None


def outcome_of(job: JobReturn, n_directions: int) -> Outcome:
    output_dir = _output_dir(job)
    results = _read_results(output_dir)
    if job.status == JobStatus.FAILED:
        interrupt = interruption_in(job._return_value)
        if interrupt:  # Ctrl-C/SIGTERM inside an in-process run
            return replace(interrupted(interrupt), output_dir=output_dir)
        storage_error = storage_error_in(job._return_value)
        if storage_error is not None:  # its report to the storage failed: not the trial's fault
            return lost(f"the storage failed during the run: {storage_error}", output_dir)
        error = job._return_value
        reason = (results or {}).get("reason") or f"{type(error).__name__}: {error}"
        return Outcome(TrialState.FAIL, fail_kind="error", reason=reason, output_dir=output_dir)
    status = (results or {}).get("status", "completed")
    reason = (results or {}).get("reason")
    if status == "pruned":
        return Outcome(TrialState.PRUNED, reason=reason, output_dir=output_dir)
    if status == "diverged":
        reason = f"diverged: {reason}"
        return Outcome(TrialState.FAIL, fail_kind="diverged", reason=reason, output_dir=output_dir)
    values, reason = objective_values(job._return_value, n_directions)
    if values is None:
        return Outcome(TrialState.FAIL, fail_kind="error", reason=reason, output_dir=output_dir)
    return Outcome(TrialState.COMPLETE, values=values, output_dir=output_dir)


def objective_values(returned: Any, n_directions: int) -> tuple[tuple[float, ...] | None, str]:
    """The run's return value as one finite float per direction, or None and why not: a
    NaN/inf or missing value in any place fails the trial (Optuna would reject it)."""
    one = isinstance(returned, str) or not isinstance(returned, Sequence)
    listed = [returned] if one else list(returned)
    if len(listed) != n_directions:
        return None, (
            f"the run returned {returned!r}: {len(listed)} value(s) for {n_directions} "
            "direction(s), one per optimized_metric"
        )
    for place, value in enumerate(listed, start=1):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            which = "" if n_directions == 1 else f" (value {place} of {n_directions})"
            reason = f"the run returned {returned!r}, not a finite optimized_metric value"
            return None, reason + which
    return tuple(float(v) for v in listed), ""


def interrupted(error: BaseException) -> Outcome:
    """The sweep was stopped (Ctrl-C, SIGTERM) while the trial ran: not the trial's fault."""
    return Outcome(
        TrialState.FAIL, fail_kind="interrupted", reason=f"{type(error).__name__}: {error}"
    )


def lost(cause: BaseException | str, output_dir: str | None = None) -> Outcome:
    """The trial's process was cancelled, preempted or killed: not counted, retried."""
    reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
    return Outcome(TrialState.FAIL, fail_kind="lost", reason=reason, output_dir=output_dir)


def launch_failed(error: BaseException) -> Outcome:
    """The launcher raised for this job (e.g. its overrides do not compose)."""
    return Outcome(TrialState.FAIL, fail_kind="error", reason=f"{type(error).__name__}: {error}")


def tell(study: optuna.Study, trial: Trial, outcome: Outcome) -> None:
    """Record the verdict; a trial another process already failed (missed heartbeats) is left."""
    try:
        if outcome.output_dir:
            trial.set_user_attr("output_dir", outcome.output_dir)
        if outcome.fail_kind:
            trial.set_user_attr(FAIL_KIND, outcome.fail_kind)
            trial.set_user_attr(FAIL_REASON, outcome.reason)
        study.tell(trial, outcome.values, state=outcome.state)
    except optuna.exceptions.UpdateFinishedTrialError:
        log.warning("Trial %d was already finished by another process", trial.number)
        return
    values = outcome.values
    label = outcome.state.name if values is None else ", ".join(f"{v:.6g}" for v in values)
    log.info(
        "Trial %d: %s%s", trial.number, label, f" ({outcome.reason})" if outcome.reason else ""
    )


def _output_dir(job: JobReturn) -> str | None:
    hydra_cfg = getattr(job, "hydra_cfg", None)
    if hydra_cfg is None:
        return None
    return str(hydra_cfg.hydra.runtime.output_dir)


def _read_results(output_dir: str | None) -> dict[str, Any] | None:
    if output_dir is None:
        return None
    path = Path(output_dir) / RESULTS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
