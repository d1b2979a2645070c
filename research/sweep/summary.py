"""The end of a sweep: `optimization_results.yaml` in the sweep folder and a leaderboard.

`best_params` are the values the best run got (`optimizer.beta1: 0.9`, not the sampled
`1-optimizer.beta1: 0.1`), so they can be pasted back as overrides. A multi-objective study
has no single best trial: as Hydra's Optuna sweeper, the file lists the Pareto front as
`solutions` (each with its `params` and `values`, in the order of `optimized_metric`), and
the leaderboard shows one row per Pareto-optimal trial.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.table import Table

from research.config.objectives import metric_names
from research.sweep.counts import TrialCounts

RESULTS_FILE = "optimization_results.yaml"
APPLIED_PARAMS = "applied_params"  # trial user attribute: {key: value the run got}


def applied_params(trial: FrozenTrial) -> dict[str, Any]:
    return dict(trial.user_attrs.get(APPLIED_PARAMS, trial.params))


def is_multi_objective(study: optuna.Study) -> bool:
    return len(study.directions) > 1


def ranked(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials best first, then pruned ones by their last value (one objective)."""
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    with_value = [t for t in trials if t.value is not None]
    return sorted(with_value, key=lambda t: (t.state != TrialState.COMPLETE, sign * t.value))


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """The complete trials no other beats on every objective, best first on the first one."""
    sign = -1.0 if study.directions[0] == StudyDirection.MAXIMIZE else 1.0
    return sorted(study.best_trials, key=lambda t: (sign * t.values[0], t.number))


def objective_names(metric: Any, n_values: int) -> list[str]:
    """A name per value of a trial: the optimized metrics, else (another app) value 1..n."""
    names = metric_names(metric) if metric is not None else []
    return names if len(names) == n_values else [f"value {i}" for i in range(1, n_values + 1)]


def summarize(
    study: optuna.Study, counts: TrialCounts, storage_url: str, metric: Any, n_trials: int
) -> dict[str, Any]:
    head = {"name": "optuna", "study_name": study.study_name, "storage": storage_url}
    tail = {"n_trials": n_trials, "trials": counts.as_dict()}
    if is_multi_objective(study):
        solutions = [
            {
                "number": t.number,
                "values": list(t.values),
                "params": applied_params(t),
                "sampled_params": t.params,
                "output_dir": t.user_attrs.get("output_dir"),
            }
            for t in pareto_front(study)
        ]
        directions = [d.name.lower() for d in study.directions]
        return {**head, "directions": directions, "optimized_metric": metric,
                "solutions": solutions, **tail}  # fmt: skip
    complete = [t for t in ranked(study) if t.state == TrialState.COMPLETE]
    best = complete[0] if complete else None
    return {
        **head,
        "direction": study.direction.name.lower(),
        "optimized_metric": metric,
        "best_value": best.value if best else None,
        "best_params": applied_params(best) if best else None,
        "best_trial": None
        if best is None
        else {
            "number": best.number,
            "sampled_params": best.params,
            "output_dir": best.user_attrs.get("output_dir"),
        },
        **tail,
    }


def write_results(summary: dict[str, Any], sweep_dir: Path) -> Path:
    path = sweep_dir / RESULTS_FILE
    path.write_text(yaml.safe_dump(summary, sort_keys=False))
    return path


def leaderboard(study: optuna.Study, counts: TrialCounts, metric: Any, top: int = 10) -> Table:
    """The best trials, ranked; for several objectives the Pareto front, a column per metric
    (and no epochs column: a multi-objective trial reports no intermediate values)."""
    title = (
        f"Study {study.study_name}: {counts.complete} complete, {counts.pruned} pruned, "
        f"{counts.failed} failed, {counts.lost} lost (killed/interrupted)"
    )
    if is_multi_objective(study):
        trials = pareto_front(study)
        title += f"; Pareto front: {len(trials)} trial(s)"
        columns = ["trial", *objective_names(metric, len(study.directions))]
        rows = [[str(t.number), *(f"{v:.4f}" for v in t.values)] for t in trials]
    else:
        trials = ranked(study)[:top]
        columns = ["rank", "trial", "state", "value", "epochs"]
        rows = [
            [
                str(rank),
                str(t.number),
                t.state.name.lower(),
                f"{t.value:.4f}",
                str(len(t.intermediate_values)),
            ]
            for rank, t in enumerate(trials, start=1)
        ]
    keys = list(dict.fromkeys(k for t in trials for k in applied_params(t)))
    table = Table(title=title)
    for column in (*columns, *keys):
        table.add_column(column, justify="right")
    for trial, row in zip(trials, rows, strict=True):
        params = applied_params(trial)
        table.add_row(*row, *(_fmt(params.get(k)) for k in keys))
    return table


def print_leaderboard(table: Table) -> None:
    Console(width=max(120, Console().width)).print(table)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
