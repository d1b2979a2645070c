"""An action repeated on a background thread while a block runs: the sweeper's heartbeats, the
benchmark's progress line."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def every(interval_s: float, action: Callable[[], None], name: str) -> Iterator[None]:
    """Calls `action` every `interval_s` seconds until the block ends; the thread is joined
    before the block's exit returns, so no call outlives it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            action()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
