"""Reproductions: every experiment composes, the driver runs one end to end, and (marked slow)
each fast tier's qualitative outcome holds as README "Reproductions" states it."""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from research.compose import compose_run_config
from tests.conftest import CONF, REPO

EXPERIMENTS = sorted(
    str(path.relative_to(CONF / "experiment").with_suffix(""))
    for path in (CONF / "experiment").rglob("*.yaml")
)
Run = dict[str, Any]


def reproduce(name: str, out: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REPRODUCTIONS_DIR": str(out), "OVERRIDES": " ".join(overrides)}
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "reproduce.sh"), name],
        cwd=out.parent, capture_output=True, text=True, timeout=1200, env=env,
    )  # fmt: skip


def load_runs(folder: Path) -> list[Run]:
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("results.json"))]


def by(runs: Iterable[Run], key: Callable[[Run], Any]) -> dict[Any, list[Run]]:
    groups: dict[Any, list[Run]] = defaultdict(list)
    for run in runs:
        groups[key(run)].append(run)
    return groups


def optimizer_name(run: Run) -> str:
    return run["config"]["optimizer"]["_target_"].rsplit(".", 1)[1]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_sweeps_existing_keys(experiment: str, tmp_path: Path) -> None:
    try:
        cfg = compose_run_config([f"experiment={experiment}"], tmp_path / "run", tmp_path)
        from hydra.core.hydra_config import HydraConfig

        params = HydraConfig.get().sweeper.params or {}
    finally:
        GlobalHydra.instance().clear()
    assert cfg.report.metric.split("/")[0] in {"train", "val", "test"}
    groups = {p.name for p in CONF.iterdir() if p.is_dir()}
    for key in params:
        assert key in groups or OmegaConf.select(cfg, key) is not None, key


def test_reproduce_runs_the_sweep_and_builds_the_report(tmp_path: Path) -> None:
    out = tmp_path / "reproductions"
    done = reproduce(
        "amsgrad_counterexample", out, "data.steps_per_epoch=202", "trainer.max_epochs=1"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    folder = out / "amsgrad_counterexample" / "fast"
    runs = load_runs(folder)
    assert len(runs) == 4 and all(r["status"] == "completed" for r in runs)
    summary = (folder / "report" / "summary.md").read_text()
    assert "val/x" in summary  # the experiment's report settings, no flags given
    again = reproduce("amsgrad_counterexample", out)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_reproduce_names_what_exists_on_a_bad_name(tmp_path: Path) -> None:
    done = reproduce("adam_vs_sdg", tmp_path / "reproductions")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "adam_vs_sgd" in done.stderr


@pytest.fixture(scope="module")
def fast_tier(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[Run]]:
    """Run a reproduction's fast tier (once per module) and return its runs."""
    out = tmp_path_factory.mktemp("work") / "reproductions"

    def run(name: str) -> list[Run]:
        folder = out / name / "fast"
        if not folder.exists():
            done = reproduce(name, out)
            assert done.returncode == 0, done.stderr[-3000:]
        runs = load_runs(folder)
        assert runs and all(r["status"] in ("completed", "diverged") for r in runs)
        return runs

    return run


@pytest.mark.slow
def test_amsgrad_counterexample_adam_ends_near_plus_one_amsgrad_near_minus_one(
    fast_tier: Callable[[str], list[Run]],
) -> None:
    runs = fast_tier("amsgrad_counterexample")
    for stochastic, group in by(runs, lambda r: r["config"]["data"]["stochastic"]).items():
        x = {optimizer_name(r): r["final"]["val/x"] for r in group}
        assert x["Adam"] > 0.5, (stochastic, x)
        assert x["AMSGrad"] < -0.5, (stochastic, x)


@pytest.mark.slow
def test_noisy_quadratic_tuned_optimizers_end_close_together(
    fast_tier: Callable[[str], list[Run]],
) -> None:
    runs = [r for r in fast_tier("noisy_quadratic") if r["status"] == "completed"]
    best = {
        name: min(group, key=lambda r: r["final"]["val/loss"])
        for name, group in by(runs, optimizer_name).items()
    }
    assert set(best) == {"SGD", "Momentum", "Adam"}
    test_losses = [r["final"]["test/loss"] for r in best.values()]
    assert max(test_losses) < 1.01 * min(test_losses)  # within 1% of each other
    grid = sorted({r["config"]["optimizer"]["lr"] for r in runs})
    for run in best.values():  # the tuned lr is inside the grid, not at its edge
        assert grid[0] < run["config"]["optimizer"]["lr"] < grid[-1]
