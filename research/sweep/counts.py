"""What counts toward `n_trials`, and what counts as a failure.

A trial that ran to a verdict counts: COMPLETE, PRUNED, or FAIL with a `fail_kind` the sweeper
recorded (`error`: it raised; `diverged`: NaN/inf loss). A FAIL without one lost its process
(killed, heartbeat expired) or was interrupted: it does not count, and its point is retried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

from optuna.trial import FrozenTrial, TrialState

FAIL_KIND = "fail_kind"
FAIL_REASON = "fail_reason"
FailKind = Literal["error", "diverged", "interrupted", "lost"]
COUNTED_FAILURES = ("error", "diverged")


@dataclass(frozen=True)
class TrialCounts:
    complete: int = 0
    pruned: int = 0
    failed: int = 0  # raised or diverged
    lost: int = 0  # killed or interrupted: not counted
    running: int = 0
    waiting: int = 0

    @property
    def counted(self) -> int:
        return self.complete + self.pruned + self.failed

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def is_counted_failure(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.FAIL and trial.user_attrs.get(FAIL_KIND) in COUNTED_FAILURES


def count_trials(trials: Iterable[FrozenTrial]) -> TrialCounts:
    counts = dict.fromkeys(("complete", "pruned", "failed", "lost", "running", "waiting"), 0)
    for trial in trials:
        if trial.state == TrialState.FAIL:
            counts["failed" if is_counted_failure(trial) else "lost"] += 1
        else:
            counts[trial.state.name.lower()] += 1
    return TrialCounts(**counts)
