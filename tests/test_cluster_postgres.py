"""Sweeps on a real PostgreSQL server (started by scripts/services.sh): several workers on a
fresh database at the same moment, exactly n_trials, and the password nowhere on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from sqlalchemy.engine import make_url

from research.sweep.counts import count_trials
from tests.cluster_services import fresh_database, postgres  # noqa: F401
from tests.test_sweep_e2e import BASE, ENV, STUDY

pytestmark = pytest.mark.timeout(600)


def start_worker(cwd: Path, storage: str, *overrides: str, env: dict[str, str] | None = None):
    return subprocess.Popen(
        [sys.executable, "-m", "research.train", "-m", *BASE,
         f"hydra.sweeper.storage={storage}", *overrides],
        cwd=cwd, env={**os.environ, **ENV, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def files_containing(root: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_workers_on_a_fresh_database_make_exactly_n_trials_and_write_no_password(
    tmp_path: Path,
    postgres: dict[str, str],
) -> None:
    url = fresh_database(postgres)
    password = make_url(url).password
    assert password
    without_password = make_url(url).set(password=None).render_as_string(hide_password=False)
    # Three ways to give the password: in the URL (masked everywhere), PGPASSWORD, ${oc.env:}.
    ways = [
        (url, None),
        (without_password, {"PGPASSWORD": password}),
        (url.replace(password, "${oc.env:DB_PASSWORD}"), {"DB_PASSWORD": password}),
    ]
    workers = [
        start_worker(tmp_path, storage, "hydra.sweeper.n_trials=5", "logger=default",
                     "trainer.max_epochs=1", env=env)
        for storage, env in ways
    ]  # fmt: skip
    logs = [worker.communicate(timeout=500)[0] for worker in workers]
    for worker, log in zip(workers, logs, strict=True):
        assert worker.returncode == 0, log[-3000:]
    study = optuna.load_study(study_name=STUDY, storage=url)
    counts = count_trials(study.trials)
    assert (counts.counted, counts.complete, counts.running) == (5, 5, 0)
    assert len(study.trials) == 5  # not one trial asked beyond n_trials
    assert any((tmp_path / "multirun").rglob("run-*.wandb")), "the trials logged to W&B"
    assert files_containing(tmp_path, password) == []
    assert all(password not in log for log in logs)
    assert "***" in (next((tmp_path / "multirun").rglob("optimization_results.yaml"))).read_text()


def test_a_wrong_storage_url_is_one_line(tmp_path: Path) -> None:
    """(More malformed URLs: tests/test_cluster_units.py, through the same check.)"""
    for storage, expected in (("postgresql:/no-host", "is not a storage URL"),):
        worker = start_worker(tmp_path, storage, "hydra.sweeper.n_trials=1")
        out = worker.communicate(timeout=120)[0]
        assert worker.returncode == 2, out
        assert out.strip().splitlines()[-1].startswith("error: hydra.sweeper.storage="), out
        assert expected in out
        assert "Traceback" not in out


@pytest.mark.slow
def test_the_worker_scale_benchmark_finds_no_duplicated_or_lost_trials(
    postgres: dict[str, str],
) -> None:
    env = {**os.environ, "PGPASSWORD": postgres["RESEARCH_PG_PASSWORD"]}
    proc = subprocess.run(
        [sys.executable, "scripts/bench_sweep_workers.py", "--storage",
         postgres["RESEARCH_PG_URL"], "--workers", "1", "2", "--trials-per-worker", "3",
         "--trial-seconds", "0.1"],
        cwd=Path(__file__).parent.parent, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|") for line in proc.stdout.splitlines()[2:]]
    assert [(row[1].strip(), row[-3].strip(), row[-2].strip()) for row in rows] == [
        ("1", "0", "0"),
        ("2", "0", "0"),
    ]
