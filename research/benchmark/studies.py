"""What the tuning studies hold, read from the Optuna storage: progress counts and the tuned
hyperparameters (the best complete trial's values, as the run got them)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import text

from research.benchmark.progress import Counts, Part
from research.benchmark.spec import Benchmark, Optimizer
from research.benchmark.steps import SELECTION_FILE, runs_dir
from research.config.benchmark_files import FINAL_RESULTS, VARIANTS, Workload
from research.sweep.counts import count_trials, is_counted_failure
from research.sweep.storage import open_storage, sqlite_path, study_lock
from research.sweep.summary import applied_params


def _trials(storage: optuna.storages.BaseStorage, study_name: str) -> list[FrozenTrial]:
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return []
    return storage.get_all_trials(study_id, deepcopy=False)


COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def counted_trials(storage: optuna.storages.BaseStorage, study_name: str) -> int:
    return count_trials(_trials(storage, study_name)).counted


def _seconds(trials: Iterable[FrozenTrial]) -> list[float]:
    return [
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in trials
        if t.datetime_start is not None and t.datetime_complete is not None
    ]


def progress_counts(bench: Benchmark, storage: optuna.storages.BaseStorage) -> Counts:
    """Per workload, the trials that count (at most the budget per study) and the final runs
    done, and what one of each takes: a trial the mean of the workload's counted trials, a
    final run that of its complete ones (it trains to the end, as they did)."""
    parts: dict[tuple[str, str], Part] = {}
    studies = len(bench.optimizers) * bench.repeats
    for w in bench.workloads:
        done, counted_s, complete_s = 0, [], []
        for o in bench.optimizers:
            for r in range(bench.repeats):
                trials = _trials(storage, bench.study_name(w, o, r))
                counted = [t for t in trials if t.state in COUNTED_STATES or is_counted_failure(t)]
                done += min(bench.budget, len(counted))
                counted_s += _seconds(counted)
                complete_s += _seconds(t for t in counted if t.state == TrialState.COMPLETE)
        trial_s = statistics.fmean(counted_s) if counted_s else None
        run_s = statistics.fmean(complete_s) if complete_s else trial_s
        parts["trials", w.name] = Part(done, studies * bench.budget, trial_s)
        runs = count_results(bench.out_dir / "runs" / w.name)
        total = len(bench.optimizers) * len(VARIANTS) * len(bench.seeds)
        parts["runs", w.name] = Part(runs, total, run_s)
    return Counts(parts)


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


def open_benchmark_storage(bench: Benchmark) -> RDBStorage:
    return open_storage(bench.storage)


def count_results(workload_runs: Path) -> int:
    """Final runs that ended, under runs/<workload>/<optimizer>/<variant>/seed_<n>/."""
    return sum(1 for _ in workload_runs.glob(f"*/*/{FINAL_RESULTS}"))


ORPHAN_AGE = timedelta(seconds=60)  # the sweeper's default grace period


def fail_orphaned_trials(bench: Benchmark, storage: RDBStorage) -> int:
    """A sweep killed between asking for a trial and recording its first heartbeat leaves the
    trial RUNNING with no heartbeat: Optuna's stale-trial check never fails it, and the next
    sweep would wait for it forever. The sweeper asks and records the first heartbeat under the
    study lock, so under that lock (SQLite) such a trial is dead; on a server database, one
    older than a minute is. It becomes FAIL without a verdict, which does not count."""
    with study_lock(bench.storage):
        with storage.engine.connect() as connection:
            beating = {
                row[0] for row in connection.execute(text("SELECT trial_id FROM trial_heartbeats"))
            }
        failed = 0
        for summary in optuna.get_all_study_summaries(storage=storage):
            if not summary.study_name.startswith(f"{bench.name}/"):
                continue
            study_id = storage.get_study_id_from_name(summary.study_name)
            for trial in storage.get_all_trials(study_id, states=(TrialState.RUNNING,)):
                locked = sqlite_path(bench.storage) is not None
                old = (
                    trial.datetime_start is not None
                    and datetime.now() - trial.datetime_start > ORPHAN_AGE
                )
                if trial._trial_id not in beating and (locked or old):
                    storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
                    failed += 1
    return failed
