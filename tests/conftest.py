"""Shared fixtures: compose the real Hydra config in-process, isolated from the user's W&B."""

from __future__ import annotations

import csv
import json
import os
import signal

# Tests check behaviour, not speed: one intra-op thread per process keeps them fast and
# steady when several processes (DDP ranks, parallel jobs) share a small machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from research.config.compose import CONF, compose_run_config

REPO = CONF.parent

# Small, fast settings that keep every code path: used by most tests.
TINY = [
    "data=digits",
    "model=mlp",
    "model.width=32",
    "trainer.max_epochs=2",
    "logger=csv",
    "callbacks=none",
]


@pytest.fixture(autouse=True)
def isolated_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """W&B stays offline and writes only under the test's tmp folder; never the cloud."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)


@pytest.fixture
def make_cfg(tmp_path: Path) -> Iterator[Callable[..., DictConfig]]:
    """Compose `conf/train.yaml` with overrides, as `python -m research.train` would."""

    def make(*overrides: str, output_dir: Path | None = None) -> DictConfig:
        return compose_run_config(list(overrides), output_dir or tmp_path / "run", tmp_path)

    yield make
    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None  # no `${hydra:...}` leaks into later tests


def sigint_as_a_terminal_sends_it() -> None:
    """In a child about to run: SIGINT acts as Ctrl-C. A process started in the background
    (`cmd &` in a script, nohup) inherits SIGINT ignored, and Python then leaves it ignored, so a
    test sending SIGINT to it would test nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(
    *args: str, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m research.train ARGS` in a fresh process, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "research.train", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def csv_rows(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's metrics.csv."""
    with open(run_dir / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def wandb_records(run_dir: Path) -> list[dict[str, Any]]:
    """The records of an offline W&B run folder, as W&B's own reader (`wandb leet`) gives them."""
    inspect = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(run_dir)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in inspect.stdout.splitlines() if line.startswith("{")]
