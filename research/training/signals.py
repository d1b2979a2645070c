"""SIGINT and SIGTERM as an exception that names the signal, so the run's record says why
it ended and the W&B run is finished, instead of the process vanishing mid-epoch."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from research.tracking.error_chain import first_in_chain

HANDLED = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    def __reduce__(self) -> tuple[type[RunInterrupted], tuple[int]]:
        # submitit and joblib return a job's result by pickle: rebuild from the signal number,
        # not from the message (the default, which is not a valid signal).
        return (type(self), (self.signum,))


def interruption_in(error: BaseException) -> RunInterrupted | None:
    """The signal behind `error`, also when code it interrupted re-raised it as something
    else (`inspect.getfullargspec`, which Lightning calls, turns any exception into
    `TypeError("unsupported callable")`)."""
    return first_in_chain(error, RunInterrupted)


class _Held:
    """A signal that arrives while a training batch runs waits for the batch's end, where the
    state is whole and can be checkpointed (`callbacks.preemption`); any other time, or a
    second signal while one waits (a second Ctrl-C), acts at once."""

    holding = False
    pending: int | None = None


def hold_signals() -> None:
    _Held.holding = True


def release_signals() -> int | None:
    """Stop holding; the signal that arrived meanwhile, if any."""
    _Held.holding = False
    pending, _Held.pending = _Held.pending, None
    return pending


def _raise(signum: int, frame: FrameType | None) -> None:
    if _Held.holding and _Held.pending is None:
        _Held.pending = signum
        return
    raise RunInterrupted(signum)


@contextmanager
def signals_as_exceptions() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread (e.g. under a joblib worker)
        return
    previous = {signum: signal.signal(signum, _raise) for signum in HANDLED}
    try:
        yield
    finally:
        release_signals()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
