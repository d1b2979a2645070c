"""A finished (or partial) benchmark as data, read from its files only: `benchmark.json`, the
tuning studies in its Optuna storage and the final runs' `results.json`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from research.config.benchmark_files import (
    FINAL_RESULTS,
    MANIFEST,
    Workload,
    runs_dir,
    study_name,
)
from research.report.errors import ReportError

# The sweeper's record of why a trial failed (research.sweep.counts): these count as a trial.
COUNTED_FAIL_KINDS = ("error", "diverged")


@dataclass(frozen=True)
class FinalRun:
    """One seed of the tuned best or of the defaults."""

    workload: str
    optimizer: str
    variant: str
    seed: int
    status: str
    val: float  # final validation value, what a tuning trial scores (NaN when none)
    test: float  # final test value
    steps: list[float]
    values: list[float]  # validation metric per epoch, at `steps`
    global_step: int
    wall_time_s: float
    path: Path


@dataclass
class Benchmark:
    name: str
    out_dir: Path
    budget: int
    seeds: list[int]
    workloads: list[Workload]
    optimizers: list[str]
    sampler: str = "random"
    # per (workload, optimizer): each repeated study's trial values in trial order (random
    # search has one study)
    trials: dict[tuple[str, str], list[list[float]]] = field(default_factory=dict)
    trial_states: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    finals: list[FinalRun] = field(default_factory=list)

    def runs(self, workload: str, optimizer: str, variant: str) -> list[FinalRun]:
        return [
            r
            for r in self.finals
            if (r.workload, r.optimizer, r.variant) == (workload, optimizer, variant)
        ]


def trial_value(trial: FrozenTrial, failure_value: float) -> float | None:
    """What a trial counts as in the budget curves; None for a trial that does not count."""
    if trial.state == TrialState.COMPLETE:
        return float(trial.value)
    if trial.state == TrialState.PRUNED:
        if trial.value is not None:
            return float(trial.value)
        steps = trial.intermediate_values
        return float(steps[max(steps)]) if steps else failure_value
    if trial.state == TrialState.FAIL and trial.user_attrs.get("fail_kind") in COUNTED_FAIL_KINDS:
        return failure_value
    return None


def study_values(
    storage: str, study_name: str, failure_value: float, higher_is_better: bool, budget: int
) -> list[float]:
    """The first `budget` counted trials of a study, in trial order (a parallel sweep on a
    server database may overshoot the budget by a batch: the extra trials are left out)."""
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return []
    values: list[float] = []
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        value = trial_value(trial, failure_value)
        if value is not None:
            values.append(clip_to_failure(value, failure_value, higher_is_better))
    return values[:budget]


def clip_to_failure(value: float, failure_value: float, higher_is_better: bool) -> float:
    """A result worse than the failure value (or NaN) is a failure: it counts as one."""
    if not math.isfinite(value):
        return failure_value
    return max(value, failure_value) if higher_is_better else min(value, failure_value)


def _final_run(path: Path, workload: Workload, optimizer: str, variant: str) -> FinalRun:
    record = json.loads(path.read_text())
    history = [h for h in record.get("history") or [] if h.get(workload.metric) is not None]
    val = (record.get("final") or {}).get(workload.metric)
    test = (record.get("final") or {}).get(workload.test_metric)
    return FinalRun(
        workload=workload.name,
        optimizer=optimizer,
        variant=variant,
        seed=int(record["seed"]),
        status=str(record["status"]),
        val=math.nan if val is None else float(val),
        test=math.nan if test is None else float(test),
        steps=[float(h["step"]) for h in history],
        values=[float(h[workload.metric]) for h in history],
        global_step=int(record.get("global_step") or 0),
        wall_time_s=float(record.get("wall_time_s") or 0.0),
        path=path.parent,
    )


def load(out_dir: Path) -> Benchmark:
    manifest_path = out_dir / MANIFEST
    if not manifest_path.is_file():
        raise ReportError(f"{out_dir} is not a benchmark folder: it has no {MANIFEST}")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    workloads = [Workload.from_manifest(w) for w in manifest["workloads"]]
    bench = Benchmark(
        name=manifest["name"],
        out_dir=out_dir,
        budget=int(manifest["budget"]),
        seeds=list(manifest["seeds"]),
        workloads=workloads,
        optimizers=[o["name"] for o in manifest["optimizers"]],
        sampler=manifest.get("sampler", "random"),
    )
    repeats = int(manifest.get("repeats", 1))
    for w in workloads:
        for o in bench.optimizers:
            bench.trials[w.name, o] = [
                study_values(
                    manifest["storage"],
                    study_name(bench.name, w.name, o, repeats, r),
                    w.failure_value,
                    w.higher_is_better,
                    bench.budget,
                )
                for r in range(repeats)
            ]
            for variant in manifest["variants"]:
                folder = runs_dir(out_dir, w.name, o, variant)
                for path in sorted(folder.glob(FINAL_RESULTS)):
                    bench.finals.append(_final_run(path, w, o, variant))
    return bench
