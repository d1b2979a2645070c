"""The protocol's steps as commands: a tuning study through the project's sweeper
(`python -m research.train -m hydra/sweeper=optuna ...`) and the final runs over seeds (a
plain multirun). Each step is idempotent: run again, it does only what is missing."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from research.benchmark.spec import Benchmark, Optimizer
from research.config import benchmark_files
from research.config.benchmark_files import FINAL_RESULTS, Workload

SELECTION_FILE = "selection.json"  # the tuned hyperparameters the final runs used
# A final run with one of these verdicts is done; `failed` (an error, or SIGTERM when the
# benchmark was killed) runs again.
FINISHED = ("completed", "diverged")


@dataclass(frozen=True)
class Step:
    """One subprocess of the protocol and the log file its output goes to."""

    label: str
    command: list[str]
    log: Path


def _train(overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "research.train", "-m", *overrides]


def run_overrides(bench: Benchmark, workload: Workload, optimizer: Optimizer) -> list[str]:
    """What every run of this workload and optimizer gets, trial or final run."""
    return [
        *bench.run_overrides,
        *workload.overrides,
        f"optimizer={optimizer.name}",
        f"optimized_metric={workload.metric}",
    ]


def tuning_dir(bench: Benchmark, workload: Workload, optimizer: Optimizer, repeat: int) -> Path:
    folder = bench.out_dir / "tuning" / workload.name / optimizer.name
    return folder if bench.repeats == 1 else folder / f"rep{repeat}"


def runs_dir(bench: Benchmark, workload: Workload, optimizer: Optimizer, variant: str) -> Path:
    return benchmark_files.runs_dir(bench.out_dir, workload.name, optimizer.name, variant)


def tuning_step(bench: Benchmark, workload: Workload, optimizer: Optimizer, repeat: int) -> Step:
    """K trials through the sweeper; a re-run continues the study until it holds K that count.
    Failed and diverged trials are data here (they cost a trial), so no failure rate stops it."""
    folder = tuning_dir(bench, workload, optimizer, repeat)
    overrides = [
        "hydra/sweeper=optuna",
        f"hydra/sweeper/sampler={bench.sampler}",
        f"hydra/sweeper/pruner={bench.pruner}",
        f"hydra.sweeper.study_name={bench.study_name(workload, optimizer, repeat)}",
        f"hydra.sweeper.storage={bench.storage}",
        f"hydra.sweeper.direction={'maximize' if workload.higher_is_better else 'minimize'}",
        f"hydra.sweeper.n_trials={bench.budget}",
        f"hydra.sweeper.seed={bench.study_seed(workload, optimizer, repeat)}",
        "hydra.sweeper.max_failure_rate=1.0",
        *run_overrides(bench, workload, optimizer),
        *(f"{key}={space}" for key, space in optimizer.params.items()),
        f"hydra.sweep.dir={folder}",
        "hydra.sweep.subdir=trial_${trial.number}",
        *bench.sweep_overrides,
    ]
    label = f"tune {bench.study_name(workload, optimizer, repeat)}"
    return Step(label, _train(overrides), folder / "sweep.log")


def finished_seeds(folder: Path) -> set[int]:
    """Seeds whose final run completed or diverged (a killed run left no verdict)."""
    done = set()
    for path in folder.glob(FINAL_RESULTS):
        record = json.loads(path.read_text())
        if record.get("status") in FINISHED:
            done.add(int(record["seed"]))
    return done


def final_step(
    bench: Benchmark,
    workload: Workload,
    optimizer: Optimizer,
    variant: str,
    params: dict[str, Any],
) -> Step | None:
    """The seeds still missing for one variant (tuned best or defaults), as one multirun."""
    folder = runs_dir(bench, workload, optimizer, variant)
    missing = [s for s in bench.seeds if s not in finished_seeds(folder)]
    if not missing:
        return None
    overrides = [
        *run_overrides(bench, workload, optimizer),
        *(f"{key}={value}" for key, value in params.items()),
        f"seed={','.join(str(s) for s in missing)}",
        f"hydra.sweep.dir={folder}",
        "hydra.sweep.subdir=seed_${seed}",
    ]
    label = f"{variant} {workload.name}/{optimizer.name} seeds {','.join(map(str, missing))}"
    return Step(label, _train(overrides), folder / "runs.log")
