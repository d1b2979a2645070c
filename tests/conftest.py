"""Shared fixtures: compose the real Hydra config in-process, isolated from the user's W&B."""

from __future__ import annotations

import os

# Tests check behaviour, not speed: one intra-op thread per process keeps them fast and
# steady when several processes (DDP ranks, parallel jobs) share a small machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"

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
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
        out = output_dir or tmp_path / "run"
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(out)
            cfg.hydra.runtime.cwd = str(tmp_path)
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            cfg.paths.root_dir = str(tmp_path)
            cfg.paths.output_dir = str(out)
            del cfg.hydra
        return cfg

    yield make
    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = None  # no `${hydra:...}` leaks into later tests


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
