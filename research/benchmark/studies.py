"""What the tuning studies hold, read from the Optuna storage: progress counts and the tuned
hyperparameters (the best complete trial's values, as the run got them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from research.benchmark.spec import Benchmark, Optimizer, Workload
from research.benchmark.steps import SELECTION_FILE, runs_dir
from research.sweep.counts import count_trials
from research.sweep.storage import open_storage
from research.sweep.summary import applied_params


def counted_trials(storage: optuna.storages.BaseStorage, study_name: str) -> int:
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return 0
    return count_trials(storage.get_all_trials(study_id, deepcopy=False)).counted


def tuned_params(
    bench: Benchmark, storage: optuna.storages.BaseStorage, workload: Workload, optimizer: Optimizer
) -> dict[str, Any] | None:
    """The best complete trial's hyperparameters (over all repeats), written once to
    `selection.json` so that resumed final runs use the same ones; None if none completed."""
    path = runs_dir(bench, workload, optimizer, "tuned") / SELECTION_FILE
    if path.is_file():
        return json.loads(path.read_text())["params"]
    complete = [
        trial
        for r in range(bench.repeats)
        for trial in optuna.load_study(
            study_name=bench.study_name(workload, optimizer, r), storage=storage
        ).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ]
    if not complete:
        return None
    sign = 1.0 if workload.higher_is_better else -1.0
    best = max(complete, key=lambda trial: sign * trial.value)
    selection = {"trial": best.number, "value": best.value, "params": applied_params(best)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(selection, indent=2))
    return selection["params"]


def open_benchmark_storage(bench: Benchmark) -> optuna.storages.BaseStorage:
    return open_storage(bench.storage)


def count_results(folder: Path) -> int:
    return sum(1 for _ in folder.glob("*/*/*/seed_*/results.json"))
