"""The Optuna storage: an RDB (SQLite by default) with heartbeats, shared by every process.

Heartbeats come from the sweep process for the trials it runs: when it is killed, its trials
stop beating, and the next sweep on the study marks them FAIL (and re-enqueues their
parameters) instead of waiting on them forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from optuna.storages import RDBStorage, RetryFailedTrialCallback
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

log = logging.getLogger(__name__)

SQLITE_TIMEOUT_S = 60  # several processes write the same file: wait for the lock, don't fail
SCHEMA_ATTEMPTS = 5


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_storage(
    url: str,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    retry_killed: int = 0,
) -> RDBStorage:
    """Trial processes open it without heartbeat settings: only the sweep process beats."""
    path = sqlite_path(url)
    engine_kwargs = {}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}

    def create() -> RDBStorage:
        return RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=(
                RetryFailedTrialCallback(max_retry=retry_killed) if retry_killed > 0 else None
            ),
        )

    for _ in range(SCHEMA_ATTEMPTS - 1):
        try:
            return create()
        except (OperationalError, IntegrityError):
            # Another process (a second sweep, optuna-dashboard, a report) is creating the
            # tables of a new storage at this moment: open it once they exist.
            time.sleep(0.5)
    return create()


@contextlib.contextmanager
def study_lock(url: str) -> Iterator[None]:
    """Serialises creating the tables and "count the study, then ask" between sweep processes
    sharing a SQLite file, so that together they create exactly n_trials. Server databases
    get no lock (documented: concurrent sweeps there may overshoot n_trials by a batch)."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def heartbeat(storage: RDBStorage, trial_ids: Sequence[int], interval: float) -> Iterator[None]:
    """Records the trials as alive every `interval` seconds until the block ends (the first
    record is made right after `ask`, so that no trial is ever RUNNING without one)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            for trial_id in trial_ids:
                try:
                    storage.record_heartbeat(trial_id)
                except Exception as error:  # a busy database: the next beat may get through
                    log.warning("heartbeat of trial id %d not recorded: %s", trial_id, error)

    thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
