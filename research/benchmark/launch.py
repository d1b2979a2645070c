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
OWN_EXIT_S = 2.0  # a Ctrl-C at a terminal reaches the step too: let it stop on its own first
STOP_WAIT_S = 60.0  # a sweep told to stop records its running trials as not counted
_running: set[subprocess.Popen[bytes]] = set()


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
        process = subprocess.Popen(
            step.command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        _running.add(process)
        code = process.wait()  # if this raises (Ctrl-C), `run_steps` stops the process
        _running.discard(process)
    return StepFailed(step, code) if code else None


def stop_running() -> None:
    """Stop every step still running, giving each time to record its trials as interrupted
    (SIGKILL, what `subprocess.call` does on Ctrl-C, would leave them RUNNING)."""
    for process in list(_running):
        try:
            process.wait(OWN_EXIT_S)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
        _running.discard(process)


def run_steps(steps: Sequence[Step], parallel: int) -> list[StepFailed]:
    """Every step runs even if another fails; the failures come back to be reported. Stopped
    (Ctrl-C, SIGTERM), the steps still running are stopped before this returns."""
    pool = ThreadPoolExecutor(max_workers=parallel) if parallel > 1 else None
    try:
        results = list(pool.map(run_step, steps)) if pool else [run_step(s) for s in steps]
    except BaseException:
        stop_running()  # before the pool waits for its threads, which wait for the steps
        raise
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
    return [failure for failure in results if failure is not None]
