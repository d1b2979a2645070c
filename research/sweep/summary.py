"""The end of a sweep: `optimization_results.yaml` in the sweep folder and a leaderboard.

`best_params` are the values the best run got (`optimizer.beta1: 0.9`, not the sampled
`1-optimizer.beta1: 0.1`), so they can be pasted back as overrides.
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

from research.sweep.counts import TrialCounts

RESULTS_FILE = "optimization_results.yaml"
APPLIED_PARAMS = "applied_params"  # trial user attribute: {key: value the run got}


def applied_params(trial: FrozenTrial) -> dict[str, Any]:
    return dict(trial.user_attrs.get(APPLIED_PARAMS, trial.params))


def ranked(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials best first, then pruned ones by their last value."""
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    with_value = [t for t in trials if t.value is not None]
    return sorted(with_value, key=lambda t: (t.state != TrialState.COMPLETE, sign * t.value))


def summarize(
    study: optuna.Study, counts: TrialCounts, storage_url: str, metric: str, n_trials: int
) -> dict[str, Any]:
    complete = [t for t in ranked(study) if t.state == TrialState.COMPLETE]
    best = complete[0] if complete else None
    return {
        "name": "optuna",
        "study_name": study.study_name,
        "storage": storage_url,
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
        "n_trials": n_trials,
        "trials": counts.as_dict(),
    }


def write_results(summary: dict[str, Any], sweep_dir: Path) -> Path:
    path = sweep_dir / RESULTS_FILE
    path.write_text(yaml.safe_dump(summary, sort_keys=False))
    return path


def leaderboard(study: optuna.Study, counts: TrialCounts, top: int = 10) -> Table:
    trials = ranked(study)[:top]
    keys = list(dict.fromkeys(k for t in trials for k in applied_params(t)))
    table = Table(
        title=f"Study {study.study_name}: {counts.complete} complete, {counts.pruned} pruned, "
        f"{counts.failed} failed, {counts.lost} lost (killed/interrupted)"
    )
    for column in ("rank", "trial", "state", "value", "epochs", *keys):
        table.add_column(column, justify="right")
    for rank, trial in enumerate(trials, start=1):
        params = applied_params(trial)
        table.add_row(
            str(rank),
            str(trial.number),
            trial.state.name.lower(),
            f"{trial.value:.4f}",
            str(len(trial.intermediate_values)),
            *(_fmt(params.get(k)) for k in keys),
        )
    return table


def print_leaderboard(table: Table) -> None:
    Console(width=max(120, Console().width)).print(table)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
