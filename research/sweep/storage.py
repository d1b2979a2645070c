"""The Optuna storage: an RDB (SQLite, PostgreSQL, MySQL) with heartbeats, shared by every process.

Heartbeats come from the sweep process for the trials it runs: when it is killed, its trials
stop beating, and the next sweep on the study marks them FAIL instead of waiting forever.
Optuna's journal file storage (`journal:///path/studies.log`, or a path ending in `.log`) works
too, with the sweeper's own heartbeats (see `liveness`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

from research.config.errors import ConfigError
from research.sweep.liveness import record_heartbeat
from research.sweep.outage import Patience, PatientRDBStorage
from research.sweep.periodic import every

log = logging.getLogger(__name__)

SQLITE_TIMEOUT_S = 60  # several processes write the same file: wait for the lock, don't fail
SCHEMA_ATTEMPTS = 5
WORKING = (
    "sqlite:///path/studies.db (one machine, or a shared file system), "
    "journal:///path/studies.log (Optuna's journal file, a shared file system), "
    "postgresql://user@host/db or mysql+pymysql://user@host/db (a database server)"
)
JOURNAL_SCHEME = "journal://"
JOURNAL_SUFFIXES = (".log", ".jsonl", ".journal")
LOCK_KEY = zlib.crc32(b"research.sweep.study_lock")  # one PostgreSQL advisory lock per database


def journal_path(url: str) -> Path | None:
    """The journal file a `journal:///path` URL (or a bare `*.log` path) names, else None."""
    if url.startswith(JOURNAL_SCHEME):
        return Path(url.removeprefix(JOURNAL_SCHEME)).absolute()
    if "://" not in url and url.endswith(JOURNAL_SUFFIXES):
        return Path(url).absolute()
    return None


def parse_url(url: str) -> URL | Path:
    """The storage URL (a journal file's path), or one line saying what is wrong and what works."""
    path = journal_path(url)
    if path is not None:
        if not path.parent.is_dir():
            raise ConfigError(f"hydra.sweeper.storage={url!r}: no folder {path.parent}")
        return path
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"hydra.sweeper.storage={masked(url)!r} is not a storage URL; use {WORKING}"
        ) from None
    try:
        parsed.get_dialect()
    except Exception as error:  # unknown dialect (NoSuchModuleError) or a missing driver
        raise ConfigError(f"hydra.sweeper.storage={masked(url)!r}: {_driver_hint(error)}") from None
    return parsed


def _driver_hint(error: Exception) -> str:
    if isinstance(error, ModuleNotFoundError) and error.name and error.name.startswith("psycopg"):
        return f"the PostgreSQL driver is missing: pip install -e '.[postgres]' ({error})"
    return f"{error}; use {WORKING}"


def masked(url: str) -> str:
    """The URL as it may be written anywhere: its password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


def password_of(url: str) -> str | None:
    try:
        return make_url(url).password  # type: ignore[return-value]
    except ArgumentError:
        return None


def sqlite_path(url: str) -> Path | None:
    if journal_path(url) is not None:
        return None
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def patience_for(url: str) -> Patience:
    """One per storage URL and process, so that an outage is announced once, not per caller."""
    if url not in _PATIENCE:
        path = sqlite_path(url)
        shown = str(path) if path is not None else masked(url)
        _PATIENCE[url] = Patience(shown, "give another with hydra.sweeper.storage=...")
    return _PATIENCE[url]


_PATIENCE: dict[str, Patience] = {}


def open_storage(
    url: str, heartbeat_interval: int | None = None, grace_period: int | None = None
) -> BaseStorage:
    """Trial processes open it without heartbeat settings: only the sweep process beats.
    A database that is down is waited for (see `outage`)."""
    journal = parse_url(url)
    if isinstance(journal, Path):
        return JournalStorage(JournalFileBackend(str(journal)))
    path = sqlite_path(url)
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}  # a server may have restarted
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}

    def create() -> RDBStorage:
        return PatientRDBStorage(
            url,
            patience_for(url),
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )

    for _ in range(SCHEMA_ATTEMPTS - 1):
        try:
            return create()
        except (OperationalError, IntegrityError, ProgrammingError):
            # Another process (a worker outside the study lock, optuna-dashboard, a report) is
            # creating the tables of a new database at this moment: open it once they exist.
            time.sleep(0.5)
    return create()


@contextlib.contextmanager
def study_lock(url: str) -> Iterator[None]:
    """Serialises creating the tables and "count the study, then ask" between all processes
    sharing a storage, so that together they create exactly n_trials: a file lock next to a
    SQLite file, a database-side lock on a server (released by the server if the holder dies)."""
    path = journal_path(url) or sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A journal's `<file>.lock` is Optuna's own (JournalFileSymlinkLock): not that one.
        suffix = ".sweep-lock" if journal_path(url) is not None else ".lock"
        with open(path.with_name(path.name + suffix), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        acquire, release = f"SELECT pg_advisory_lock({LOCK_KEY})", None
    elif backend in ("mysql", "mariadb"):
        acquire = f"SELECT GET_LOCK('research_sweep_{LOCK_KEY}', -1)"
        release = f"SELECT RELEASE_LOCK('research_sweep_{LOCK_KEY}')"
    else:
        log.warning("No study lock for %s databases: concurrent sweeps may overshoot n_trials",
                    backend)  # fmt: skip
        yield
        return
    engine = create_engine(url, poolclass=NullPool)

    def locked() -> Connection:
        connection = engine.connect()
        try:
            connection.execute(text(acquire))
            connection.commit()
        except BaseException:
            connection.close()
            raise
        return connection

    try:
        with patience_for(url).call(locked) as connection:
            try:
                yield
            finally:
                # PostgreSQL frees a session's advisory locks when the session ends.
                if release is not None:
                    connection.execute(text(release))
                    connection.commit()
    finally:
        engine.dispose()


@contextlib.contextmanager
def heartbeat(storage: BaseStorage, trial_ids: Sequence[int], interval: float) -> Iterator[None]:
    """Records the trials as alive every `interval` seconds until the block ends (the first
    record is made right after `ask`, so that no trial is ever RUNNING without one)."""

    def beat() -> None:
        for trial_id in trial_ids:
            try:
                record_heartbeat(storage, trial_id)
            except Exception as error:  # a busy database: the next beat may get through
                log.warning("heartbeat of trial id %d not recorded: %s", trial_id, error)

    with every(interval, beat, "optuna-heartbeat"):
        yield
