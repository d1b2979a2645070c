"""Storage outages: a database that goes away (a restart, dropped connections, a locked file) is
waited for and reconnected to, with a line for each; one that stays away, refuses the login or
is damaged stops the sweep in one line; a storage error is never a trial's counted failure.

Real storages throughout: SQLite files, the PostgreSQL server of the cluster tests behind a
TCP relay that a test cuts (every connection dropped, as in a restart), and, for the slow test,
a PostgreSQL cluster of the test's own that is restarted in the middle of a sweep.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from research.sweep.counts import count_trials
from research.sweep.outage import Patience, PatientRDBStorage, StorageUnreachable
from research.sweep.outcome import outcome_of
from research.sweep.storage import masked, open_storage
from tests.cluster_services import SCRIPT, _installed, fresh_database, postgres  # noqa: F401
from tests.test_sweep_e2e import BASE, ENV, STUDY, output, sweep

HINT = "give another with hydra.sweeper.storage=..."


class Relay:
    """A TCP relay to a real server. `cut()` drops every connection and drops each new one at
    once, as a restarting server does; `restore()` relays again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.up = False
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.sockets.clear()

    def restore(self) -> None:
        self.up = True

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def relayed(postgres: dict[str, str]) -> Iterator[tuple[str, Relay]]:  # noqa: F811
    """A fresh database on the cluster tests' server, reached through a Relay."""
    url = make_url(fresh_database(postgres))
    relay = Relay(url.host or "127.0.0.1", url.port or 5432)
    yield url.set(port=relay.port).render_as_string(hide_password=False), relay
    relay.cut()


def test_a_server_restart_is_waited_for_and_the_write_goes_through_once(
    relayed: tuple[str, Relay], caplog: pytest.LogCaptureFixture
) -> None:
    url, relay = relayed
    storage = open_storage(url)
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    trial = study.ask()
    relay.cut()
    threading.Timer(1.5, relay.restore).start()
    with caplog.at_level(logging.INFO, logger="research.sweep.outage"):
        study.tell(trial, 0.5)  # sent while the server is away
    shown = masked(url)
    assert (
        f'storage {shown} unreachable (connection to server at "127.0.0.1", port {relay.port} '
        "failed: server closed the connection unexpectedly): retrying for up to 60 s"
    ) in caplog.text
    assert f"storage {shown} reconnected after " in caplog.text
    assert make_url(url).password not in caplog.text
    (stored,) = optuna.load_study(study_name="s", storage=url).trials
    assert (stored.state, stored.value) == (TrialState.COMPLETE, 0.5)


def test_a_statement_on_a_dropped_connection_runs_again(
    relayed: tuple[str, Relay], caplog: pytest.LogCaptureFixture
) -> None:
    """Without pre-ping the pooled connection is used as it is: the statement itself fails
    (Optuna's "invalid data in the commit") and the call runs again on a new connection."""
    url, relay = relayed
    storage = PatientRDBStorage(url, Patience(masked(url), HINT, window_s=30), engine_kwargs={})
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    trial = study.ask()
    relay.cut()
    relay.restore()  # the server answers, but the pooled connection is gone
    with caplog.at_level(logging.INFO, logger="research.sweep.outage"):
        study.tell(trial, 0.25)
    assert "reconnected after" in caplog.text
    assert optuna.load_study(study_name="s", storage=url).trials[0].value == 0.25


def test_a_server_that_stays_away_stops_in_one_line_without_the_password() -> None:
    with socket.create_server(("127.0.0.1", 0)) as unused:
        port = unused.getsockname()[1]  # closed again below: nothing listens there
    url = f"postgresql://research:s3cret@127.0.0.1:{port}/optuna"
    start = time.monotonic()
    with pytest.raises(StorageUnreachable) as raised:
        PatientRDBStorage(url, Patience(masked(url), HINT, window_s=2))
    assert 2 <= time.monotonic() - start < 10
    assert str(raised.value) == (
        f"storage postgresql://research:***@127.0.0.1:{port}/optuna unreachable for 2 s "
        f'(connection to server at "127.0.0.1", port {port} failed: Connection refused): run the '
        "same command again once it answers; the study resumes where it stopped"
    )


def test_a_locked_sqlite_file_is_waited_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "studies.db"
    storage = PatientRDBStorage(
        f"sqlite:///{path}",
        Patience(str(path), HINT, window_s=30),
        engine_kwargs={"connect_args": {"timeout": 0.1}},
    )
    study = optuna.create_study(study_name="s", storage=storage)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for a second
    threading.Timer(1.0, holder.execute, args=("COMMIT",)).start()
    with caplog.at_level(logging.INFO, logger="research.sweep.outage"):
        study.set_user_attr("written", True)
    assert f"storage {path} unreachable (database is locked): retrying" in caplog.text
    assert f"storage {path} reconnected after" in caplog.text
    assert optuna.load_study(study_name="s", storage=f"sqlite:///{path}").user_attrs == {
        "written": True
    }


def test_a_run_stopped_by_the_storage_is_lost_not_failed(tmp_path: Path) -> None:
    job = JobReturn(status=JobStatus.FAILED)
    down = StorageUnreachable("storage sqlite:///x unreachable for 60 s (database is locked)")
    try:  # as the reporting callback raises it inside Lightning, which re-raises its own way
        try:
            raise down
        except StorageUnreachable as error:
            raise RuntimeError("a callback failed") from error
    except RuntimeError as error:
        job.return_value = error
    outcome = outcome_of(job, 1)
    assert (outcome.state, outcome.fail_kind) == (TrialState.FAIL, "lost")
    assert outcome.reason == f"the storage failed during the run: {down}"
    job.return_value = ValueError("the model failed")
    assert outcome_of(job, 1).fail_kind == "error", "the trial's own error still counts"


def test_a_refused_login_is_one_line(tmp_path: Path, postgres: dict[str, str]) -> None:  # noqa: F811
    url = make_url(postgres["RESEARCH_PG_URL"]).set(password="not-the-password")
    storage = url.render_as_string(hide_password=False)
    proc = sweep(tmp_path, "hydra.sweeper.n_trials=1", f"hydra.sweeper.storage={storage}")
    assert proc.returncode == 2, output(proc)
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: storage {masked(storage)} refused the connection (connection to server at "
        f'"{url.host}", port {url.port} failed: FATAL:  password authentication failed for user '
        f'"{url.username}"): check the user, the password (PGPASSWORD, ~/.pgpass) and the '
        f"database, or {HINT}"
    )
    assert "Traceback" not in output(proc) and "not-the-password" not in output(proc)
    assert not (tmp_path / "multirun").exists()


def damage(path: Path, tables: tuple[str, ...]) -> None:
    """Overwrite the first page of each table's b-tree with bytes no page starts with."""
    with sqlite3.connect(path) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        pages = dict(connection.execute("SELECT name, rootpage FROM sqlite_master"))
    with open(path, "r+b") as file:
        for table in tables:
            file.seek((pages[table] - 1) * page_size)
            file.write(b"\xff" * 64)


def test_a_damaged_sqlite_file_stops_the_sweep_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "optuna" / "studies.db"
    path.parent.mkdir()
    study = optuna.create_study(study_name=STUDY, storage=f"sqlite:///{path}", direction="maximize")
    for value in (0.5, 0.7):
        trial = study.ask({"optimizer.lr": optuna.distributions.FloatDistribution(1e-4, 1e-1)})
        trial.report(value, step=0)
        study.tell(trial, value)
    damage(path, ("trials", "trial_values", "trial_intermediate_values"))

    proc = sweep(tmp_path, "hydra.sweeper.n_trials=3", "trainer.max_epochs=1")
    assert proc.returncode == 2, output(proc)
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: storage {path} is damaged (database disk image is malformed): restore it from "
        f"a backup, or {HINT}"
    )
    assert "Traceback" not in output(proc)
    assert not (tmp_path / "multirun").exists(), "no trial ran, no sweep folder"


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, dict[str, str]]]:
    """A PostgreSQL cluster of this test's own (scripts/services.sh in a folder and on a port
    of its own), which the test may stop and start; the shared one is never touched."""
    if os.geteuid() != 0 or not _installed("postgres"):
        pytest.skip("needs root and `apt-get install -y postgresql`")
    root = Path(tempfile.mkdtemp(prefix="research-outage-"))
    root.chmod(0o755)  # the postgres user runs the server from here
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    env = {**os.environ, "RESEARCH_SERVICES_DIR": str(root), "RESEARCH_PG_PORT": str(port)}
    try:
        out = subprocess.run([str(SCRIPT), "start", "postgres"], env=env, check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
        variables = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
        url = make_url(variables["RESEARCH_PG_URL"]).set(password=variables["RESEARCH_PG_PASSWORD"])
        yield url.render_as_string(hide_password=False), env
    finally:
        subprocess.run([str(SCRIPT), "stop", "postgres"], env=env, check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_sweep_rides_out_a_postgresql_restart(
    tmp_path: Path, own_postgres: tuple[str, dict[str, str]]
) -> None:
    url, env = own_postgres
    log = tmp_path / "sweep.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "research.train", "-m", *BASE, "hydra.sweeper.n_trials=3",
             "trainer.max_epochs=40", f"hydra.sweeper.storage={url}"],
            cwd=tmp_path, env={**os.environ, **ENV}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while not _reported(url) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert proc.poll() is None, log.read_text()[-3000:]
            subprocess.run([str(SCRIPT), "stop", "postgres"], env=env, check=True)
            time.sleep(8)  # the server is away mid-trial
            subprocess.run([str(SCRIPT), "start", "postgres"], env=env, check=True,
                           capture_output=True)  # fmt: skip
            proc.wait(timeout=400)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    counts = count_trials(optuna.load_study(study_name=STUDY, storage=url).trials)
    assert (counts.counted, counts.complete, counts.failed, counts.running) == (3, 3, 0, 0), text
    shown = masked(url)
    assert f"storage {shown} unreachable (" in text and "retrying for up to 60 s" in text
    assert f"storage {shown} reconnected after " in text
    assert make_url(url).password not in text


def _reported(url: str) -> bool:
    """A trial is mid-training: it has reported an epoch."""
    try:
        trials = optuna.load_study(study_name=STUDY, storage=url).trials
    except Exception:  # the study or its tables are being created
        return False
    return any(t.state == TrialState.RUNNING and t.intermediate_values for t in trials)
