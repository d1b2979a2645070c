"""Runs the protocol's steps as subprocesses, `parallel` at a time, each writing its output to
its own log. A child gets SIGTERM when the benchmark process dies, so a killed benchmark
leaves no sweep running behind it (the sweeper records the interrupted trial as not counted)."""

from __future__ import annotations

import ctypes
import signal
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from research.benchmark.steps import Step

PR_SET_PDEATHSIG = 1
LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class StepFailed:
    step: Step
    returncode: int

    def message(self) -> str:
        lines = self.step.log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        tail = "\n".join(f"    {line}" for line in lines)
        return f"{self.step.label} exited with {self.returncode}; see {self.step.log}:\n{tail}"


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_step(step: Step) -> StepFailed | None:
    step.log.parent.mkdir(parents=True, exist_ok=True)
    with open(step.log, "a") as log:
        code = subprocess.call(
            step.command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
    return StepFailed(step, code) if code else None


def run_steps(steps: Sequence[Step], parallel: int) -> list[StepFailed]:
    """Every step runs even if another fails; the failures come back to be reported."""
    if parallel <= 1:
        results = [run_step(step) for step in steps]
    else:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            results = list(pool.map(run_step, steps))
    return [failure for failure in results if failure is not None]
