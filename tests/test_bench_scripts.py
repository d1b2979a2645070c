"""The measuring scripts behind the docs' tables run at a small size and write their tables
(slow: each starts real runs). A check added to the runs must not break a benchmark unseen, as
`trainer.limit_val_batches=0` with the default `optimized_metric=val/acc` once did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def run_script(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, f"scripts/{name}.py", *args],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def table_rows(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    assert lines[0].startswith("<!-- measured by `") and "python scripts/" in lines[0]
    return [line for line in lines if line.startswith("| ") and "---" not in line]


def test_startup_measures_every_command(tmp_path: Path) -> None:
    table = tmp_path / "bench_startup.md"
    run_script("bench_startup", "--repeats", "1", "--markdown", str(table))
    assert [row.split(" | ")[0] for row in table_rows(table)[1:]] == [
        "| `--help`", "| `--cfg job`", "| `to first step`"
    ]  # fmt: skip
    assert len(table_rows(tmp_path / "bench_startup_sweep.md")) == 3


def test_trial_overhead_measures_one_step_jobs(tmp_path: Path) -> None:
    table = tmp_path / "bench_trial_overhead.md"
    run_script("bench_trial_overhead", "--few", "1", "--many", "2", "--markdown", str(table))
    assert table_rows(table)[-1].startswith("| 2 | ")


def test_pruning_runs_both_searches(tmp_path: Path) -> None:
    table = tmp_path / "bench_pruning.md"
    run_script("bench_pruning", "--trials", "2", "-o", "trainer.max_epochs=2",
               "--out", str(tmp_path / "out"), "--markdown", str(table))  # fmt: skip
    studies = [row.split(" | ")[0] for row in table_rows(table)[1:]]
    assert studies == ["| adam_betas_lr-pruned", "| adam_betas_lr-unpruned"]


def test_study_size_takes_optunas_decisions(tmp_path: Path) -> None:
    table = tmp_path / "bench_study_size.md"
    args = ["--sizes", "0", "50", "--trials", "1", "--epochs", "4", "--markdown", str(table)]
    run_script("bench_study_size", *args)  # exits non-zero if a decision differs
    assert [row.split(" | ")[0] for row in table_rows(table)[1:]] == ["| 0", "| 50"]
