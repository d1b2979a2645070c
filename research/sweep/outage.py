"""Storage outages: a database that goes away for up to a minute is waited for; one that cannot
be used stops the sweep in one line.

A server restart, a failover or a dropped connection raises a connection-class error (Optuna
wraps it as StorageInternalError, "invalid data in the commit"); a locked SQLite file raises
"database is locked". Every storage call of a sweep or a trial goes through `PatientRDBStorage`,
which retries such a call with backoff for up to RETRY_WINDOW_S: one line when the waiting
starts, one when the storage answers again. Pooled connections are checked before use
(`pool_pre_ping`), and a call that failed mid-transaction runs again with a fresh session.
A storage error therefore never reaches a trial's verdict: a run that stopped on one is lost
(retried, not counted), never failed. A damaged or unreadable SQLite file, a refused login or a
missing database is not waited for: `StorageUnusable`, one line naming the file or URL.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

from optuna.storages import RDBStorage
from sqlalchemy import exc

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_WINDOW_S = 60.0
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)  # then every MAX_DELAY_S
MAX_DELAY_S = 5.0
# A server that answered, but refuses: waiting does not help.
REFUSALS = ("authentication failed", "does not exist", "no password supplied",
            "permission denied", "access denied")  # fmt: skip
DAMAGED = ("malformed", "not a database", "file is encrypted")
UNREADABLE = ("unable to open", "disk i/o error", "readonly database", "read-only")
SQLITE_BUSY = ("database is locked", "database table is locked", "busy")
# SQLSTATE classes: 08 connection exception, 57P operator intervention (admin shutdown, crash,
# cannot connect now), 53 insufficient resources, 40 transaction rollback (deadlock); refused:
# 28 invalid authorization, 3D no such database, 42501 insufficient privilege.
TRANSIENT_SQLSTATES = ("08", "57P", "53", "40")
REFUSED_SQLSTATES = ("28", "3D", "42501")

Kind = Literal["transient", "damaged", "unreadable", "refused"]


class StorageUnavailable(RuntimeError):
    """The storage cannot be used: the sweep stops with this one line."""

    exit_code = 1


class StorageUnreachable(StorageUnavailable):
    """Still unreachable after RETRY_WINDOW_S: the study resumes when the command runs again."""


class StorageUnusable(StorageUnavailable):
    """Damaged, unreadable or refusing: the user must give another storage or fix access."""

    exit_code = 2


def classify(error: BaseException) -> Kind | None:
    """What a storage error means, from the driver's error behind it; None: not a storage
    outage (a bug or bad data, raised as it is)."""
    for link in _chain(error):
        if isinstance(link, StorageUnavailable):
            return None
        if isinstance(link, sqlite3.Error):
            return _sqlite_kind(str(link).lower())
        if isinstance(link, exc.DBAPIError):
            if isinstance(link.orig, sqlite3.Error):
                return _sqlite_kind(str(link.orig).lower())
            if link.connection_invalidated:
                return "transient"
            if isinstance(link, (exc.OperationalError, exc.InterfaceError)):
                return _server_kind(link.orig)
            return None
        if isinstance(link, exc.PendingRollbackError):  # a session left by a lost connection
            return "transient"
    return None


def storage_error_in(error: BaseException) -> BaseException | None:
    """The storage error behind a run's failure, if any: the trial is not to blame."""
    for link in _chain(error):
        if isinstance(link, StorageUnavailable) or classify(link) is not None:
            return link
    return None


def reason(error: BaseException) -> str:
    """The driver's own first line (`Connection refused`, `database disk image is malformed`)."""
    inner = error
    for link in _chain(error):
        if isinstance(link, exc.DBAPIError) and link.orig is not None:
            inner = link.orig
            break
        if isinstance(link, sqlite3.Error):
            inner = link
            break
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    return text.removeprefix("connection failed: ")[:200]


class Patience:
    """Retries the storage calls of one storage (shared by its threads), one line per outage."""

    def __init__(self, shown: str, hint: str, window_s: float = RETRY_WINDOW_S) -> None:
        self.shown = shown  # the masked URL, or the SQLite file
        self.hint = hint  # how to give another storage
        self.window_s = window_s
        self._lock = threading.Lock()
        self._down_since: float | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def call(self, action: Callable[[], T], reset: Callable[[], None] | None = None) -> T:
        deadline: float | None = None
        delays = iter(BACKOFF_S)
        while True:
            try:
                result = action()
            except Exception as error:
                kind = classify(error)
                if kind is None:
                    raise
                if kind != "transient":
                    raise StorageUnusable(self._unusable(kind, error)) from None
                now = time.monotonic()
                deadline = deadline or now + self.window_s
                self._went_down(error)
                if now >= deadline:
                    raise StorageUnreachable(
                        f"storage {self.shown} unreachable for {self.window_s:.0f} s "
                        f"({reason(error)}): run the same command again once it answers; "
                        "the study resumes where it stopped"
                    ) from None
                time.sleep(min(next(delays, MAX_DELAY_S), max(deadline - now, 0.0)))
                if reset is not None:
                    reset()
                continue
            if self._down_since is not None:
                self._came_back()
            return result

    def _went_down(self, error: BaseException) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("storage %s unreachable (%s): retrying for up to %.0f s",
                            self.shown, reason(error), self.window_s)  # fmt: skip

    def _came_back(self) -> None:
        with self._lock:
            if self._down_since is not None:
                log.info("storage %s reconnected after %.1f s", self.shown,
                         time.monotonic() - self._down_since)  # fmt: skip
                self._down_since = None

    def _unusable(self, kind: Kind, error: BaseException) -> str:
        what = {
            "damaged": "is damaged",
            "unreadable": "cannot be read or written",
            "refused": "refused the connection",
        }[kind]
        todo = {
            "damaged": "restore it from a backup, or",
            "unreadable": "check the file and its folder's permissions and free space, or",
            "refused": "check the user, the password (PGPASSWORD, ~/.pgpass) and the database, or",
        }[kind]
        return f"storage {self.shown} {what} ({reason(error)}): {todo} {self.hint}"


# RDBStorage's methods that open a session of their own: each is one retryable unit.
DB_CALLS = (
    "create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr",
    "get_study_id_from_name", "get_study_name_from_id", "get_study_directions",
    "get_study_user_attrs", "get_study_system_attrs", "get_trial_user_attrs",
    "get_trial_system_attrs", "get_all_studies", "_create_new_trial", "_set_trial_param",
    "get_trial_param", "set_trial_state_values", "set_trial_intermediate_value",
    "set_trial_user_attr", "set_trial_system_attr", "get_trial_id_from_study_id_trial_number",
    "get_trial", "_get_trials", "_get_best_trial_id", "record_heartbeat", "_get_stale_trial_ids",
)  # fmt: skip


class PatientRDBStorage(RDBStorage):
    """Optuna's RDBStorage whose every database call waits out an outage (see `Patience`).
    Still an RDBStorage: Optuna caches it and sees its heartbeats as its own."""

    def __init__(self, url: str, patience: Patience, **kwargs: Any) -> None:
        self.patience = patience
        patience.call(lambda: RDBStorage.__init__(self, url, **kwargs))


def _patient(name: str) -> Callable[..., Any]:
    method = getattr(RDBStorage, name)

    @functools.wraps(method)
    def call(self: PatientRDBStorage, *args: Any, **kwargs: Any) -> Any:
        return self.patience.call(lambda: method(self, *args, **kwargs), self.remove_session)

    return call


for _name in DB_CALLS:
    setattr(PatientRDBStorage, _name, _patient(_name))


def _sqlite_kind(message: str) -> Kind | None:
    if any(text in message for text in SQLITE_BUSY):
        return "transient"
    if any(text in message for text in DAMAGED):
        return "damaged"
    if any(text in message for text in UNREADABLE):
        return "unreadable"
    return None


def _server_kind(error: BaseException | None) -> Kind | None:
    sqlstate = str(getattr(error, "sqlstate", None) or getattr(error, "pgcode", None) or "")
    if sqlstate.startswith(TRANSIENT_SQLSTATES):
        return "transient"
    if sqlstate.startswith(REFUSED_SQLSTATES):
        return "refused"
    if sqlstate:
        return None
    message = str(error).lower()
    return "refused" if any(text in message for text in REFUSALS) else "transient"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
