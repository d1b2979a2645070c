"""The progress line: trials and final runs done out of the total, and the time left.

Units differ in cost by far (a CNN trial takes minutes, a quadratic's seconds; a pruned trial
stops early), so the time left is not units left x time per unit: each unit weighs what one of
its workload and kind takes (measured on the workload's finished trials), and the rate is the
weight this invocation finished per second. A resumed benchmark counts what was already done
in the totals, never in the rate.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from research.sweep.periodic import every


@dataclass(frozen=True)
class Part:
    """One workload's tuning trials, or its final runs: done of total, and the seconds one
    takes (None until one of the workload's trials finished)."""

    done: int
    total: int
    cost_s: float | None = None


@dataclass(frozen=True)
class Counts:
    """The parts by (kind, workload), kind `trials` or `runs`."""

    parts: Mapping[tuple[str, str], Part]

    def _sum(self, kind: str, field: str) -> int:
        return sum(getattr(p, field) for (k, _), p in self.parts.items() if k == kind)

    @property
    def trials(self) -> int:
        return self._sum("trials", "done")

    @property
    def trials_total(self) -> int:
        return self._sum("trials", "total")

    @property
    def runs(self) -> int:
        return self._sum("runs", "done")

    @property
    def runs_total(self) -> int:
        return self._sum("runs", "total")

    @property
    def done(self) -> int:
        return self.trials + self.runs

    @property
    def total(self) -> int:
        return self.trials_total + self.runs_total

    def costs(self) -> dict[tuple[str, str], float]:
        """Seconds per unit of each part; a part not measured yet weighs the mean measured
        one (all weigh 1 before anything is measured: the plain unit count)."""
        known = [p.cost_s for p in self.parts.values() if p.cost_s]
        fallback = statistics.fmean(known) if known else 1.0
        return {key: p.cost_s or fallback for key, p in self.parts.items()}


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def seconds_left(counts: Counts, start: Counts, elapsed_s: float) -> float | None:
    """The work left at the rate this invocation finished work; None before it finished any."""
    costs, parts = counts.costs(), counts.parts
    before = {key: start.parts[key].done if key in start.parts else 0 for key in parts}
    finished = sum(cost * (parts[key].done - before[key]) for key, cost in costs.items())
    if finished <= 0:
        return None
    left = sum(cost * (parts[key].total - parts[key].done) for key, cost in costs.items())
    return elapsed_s * left / finished


def progress_line(counts: Counts, start: Counts, elapsed_s: float) -> str:
    """`trials 12/40, runs 3/16 (15/56 done), about 4m10s left`; the estimate needs work
    finished in this invocation."""
    line = (
        f"progress: trials {counts.trials}/{counts.trials_total}, runs {counts.runs}/"
        f"{counts.runs_total} ({counts.done}/{counts.total} done)"
    )
    if counts.done >= counts.total:
        return f"{line}, finished in {format_duration(elapsed_s)}"
    left = seconds_left(counts, start, elapsed_s)
    if left is None:
        return f"{line}, time left: estimating"
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
