"""The progress line: trials and final runs done out of the total, and the time left at the
rate this invocation has been going (a resumed benchmark counts what was already done)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from research.sweep.periodic import every


@dataclass(frozen=True)
class Counts:
    trials: int
    trials_total: int
    runs: int
    runs_total: int

    @property
    def done(self) -> int:
        return self.trials + self.runs

    @property
    def total(self) -> int:
        return self.trials_total + self.runs_total


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def progress_line(counts: Counts, start: Counts, elapsed_s: float) -> str:
    """`trials 12/40, runs 3/16 (15/56 done), about 4m10s left`; the estimate needs one unit
    finished in this invocation."""
    line = (
        f"progress: trials {counts.trials}/{counts.trials_total}, runs {counts.runs}/"
        f"{counts.runs_total} ({counts.done}/{counts.total} done)"
    )
    finished_now = counts.done - start.done
    if counts.done >= counts.total:
        return f"{line}, finished in {format_duration(elapsed_s)}"
    if finished_now <= 0:
        return f"{line}, time left: estimating"
    left = elapsed_s / finished_now * (counts.total - counts.done)
    return f"{line}, about {format_duration(left)} left"


@contextmanager
def reporting(
    count: Callable[[], Counts], every_s: float, emit: Callable[[str], None]
) -> Iterator[None]:
    """Prints the line now, every `every_s` seconds while the block runs, and at its end."""
    start, began = count(), time.monotonic()

    def report() -> None:
        emit(progress_line(count(), start, time.monotonic() - began))

    report()
    try:
        with every(every_s, report, "benchmark-progress"):
            yield
    finally:
        report()
