"""scripts/bench_report.py runs, and scripts/wandb_sync.sh never hangs, whatever the network."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SYNC = SCRIPTS / "wandb_sync.sh"


def test_bench_runs_on_a_small_sweep() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_report.py"), "--runs", "20", "--steps", "50"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "baseline" in done.stdout and "x the baseline" in done.stdout


def offline_runs(root: Path) -> Path:
    for job in ("0", "1"):
        (root / "multirun" / job / "wandb" / f"offline-run-20261121_120000-id{job}").mkdir(
            parents=True
        )
    return root / "multirun"


def sync(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SYNC), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_sync_without_offline_runs_is_a_usage_error(tmp_path: Path) -> None:
    done = sync(str(tmp_path))
    assert done.returncode == 2 and "no offline W&B runs" in done.stderr


def test_sync_dry_run_lists_the_runs(tmp_path: Path) -> None:
    done = sync("--dry-run", str(offline_runs(tmp_path)))
    assert done.returncode == 0
    assert done.stdout.count("offline-run-") == 2 and "2 offline run(s)" in done.stdout


def test_sync_gives_up_at_once_when_the_server_is_unreachable(tmp_path: Path) -> None:
    started = time.monotonic()
    done = sync(
        str(offline_runs(tmp_path)),
        WANDB_BASE_URL="http://127.0.0.1:9",
        WANDB_SYNC_CONNECT_TIMEOUT="2",
    )
    assert done.returncode == 3 and "cannot reach 127.0.0.1:9" in done.stderr
    assert time.monotonic() - started < 10


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A local server that accepts connections and never answers, like a stuck upload."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_sync_kills_an_upload_that_hangs(tmp_path: Path, listening_port: int) -> None:
    fake = tmp_path / "bin" / "wandb"
    fake.parent.mkdir()
    fake.write_text("#!/usr/bin/env bash\nexec sleep 120\n")
    fake.chmod(0o755)
    started = time.monotonic()
    done = sync(
        str(offline_runs(tmp_path)),
        WANDB_BASE_URL=f"http://127.0.0.1:{listening_port}",
        WANDB_SYNC_TIMEOUT="1",
        PATH=f"{fake.parent}:{os.environ['PATH']}",
    )
    assert done.returncode == 1
    assert done.stderr.count("no upload within 1s") == 2 and "0 of 2 run(s)" in done.stdout
    assert time.monotonic() - started < 30
