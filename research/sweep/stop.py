"""The sweep process itself stopped: Ctrl-C, or SIGTERM (a sweep that is a SLURM job being
preempted or cancelled). Its running trials are stopped (submitit jobs cancelled), told to
the study as interrupted (not counted, run again by the next sweep, from their checkpoints),
and the user gets one line, not a traceback."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class SigtermReceived(BaseException):
    """SIGTERM to a sweep or benchmark process; a BaseException, like KeyboardInterrupt, so
    that no `except Exception` on its way (a launcher's error handling) takes it for a job's
    failure."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def _raise(signum: int, frame: FrameType | None) -> None:
    raise SigtermReceived(signum)


@contextmanager
def sigterm_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def signal_number(error: BaseException) -> int:
    return error.signum if isinstance(error, SigtermReceived) else signal.SIGINT


def signal_named_in(reason: str) -> int:
    """The signal an interrupted trial's reason names ("interrupted by SIGTERM")."""
    return signal.SIGTERM if "SIGTERM" in reason else signal.SIGINT


def stopped_line(stopped_trials: int, signum: int) -> str:
    name = signal.Signals(signum).name
    if not stopped_trials:
        return f"interrupted by {name} between trials: run the same command again to resume"
    return (
        f"interrupted by {name}: the sweep stopped its {stopped_trials} running trial(s) "
        "(cancelled, not counted); run the same command again to resume: they run again, "
        "from their last checkpoints"
    )
