"""W&B for a study: each trial is a run `trial-<number>` in group <study name> (set through
the trial's overrides), and one `study-<name>` run in the same group holds the summary: the
best value and parameters, or for several objectives the Pareto front (`solutions`) and a
table of every complete trial with a column per metric, to plot one against another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.trial import TrialState

from research.sweep.space import quoted
from research.sweep.summary import (
    applied_params,
    is_multi_objective,
    objective_names,
    pareto_front,
    ranked,
)


def wandb_node(config: DictConfig) -> DictConfig | None:
    """The job config's W&B logger node, if the runs log to W&B."""
    loggers = config.get("logger")
    return loggers.get("wandb") if loggers else None


def trial_overrides(study_name: str, number: int) -> list[str]:
    return [f"logger.wandb.group={quoted(study_name)}", f"logger.wandb.name=trial-{number}"]


def log_study(
    node: DictConfig, study: optuna.Study, summary: dict[str, Any], sweep_dir: Path
) -> None:
    import wandb

    from research.tracking.wandb_logger import resolve_mode

    if is_multi_objective(study):
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        front = {t.number for t in pareto_front(study)}
        names = objective_names(summary["optimized_metric"], len(study.directions))
        columns = ["trial", *names, "pareto"]
        rows = [[t.number, *t.values, t.number in front] for t in trials]
        best = {"solutions": summary["solutions"]}
    else:
        trials = ranked(study)
        columns = ["trial", "state", "value", "epochs"]
        rows = [
            [t.number, t.state.name.lower(), t.value, len(t.intermediate_values)] for t in trials
        ]
        best = {"best_value": summary["best_value"], "best_params": summary["best_params"]}
    keys = list(dict.fromkeys(k for t in trials for k in applied_params(t)))
    columns += keys
    rows = [
        row + [applied_params(t).get(k) for k in keys] for t, row in zip(trials, rows, strict=True)
    ]
    run = wandb.init(
        project=node.get("project"),
        entity=node.get("entity"),
        group=study.study_name,
        name=f"study-{study.study_name}",
        job_type="study",
        dir=str(sweep_dir),
        mode=resolve_mode(node.get("mode")),
        config={"study_name": study.study_name, "n_trials": summary["n_trials"]},
        settings=wandb.Settings(silent=True, console="off"),
    )
    run.log({"trials": wandb.Table(columns=columns, data=rows)})
    run.summary.update({**best, **{f"trials/{k}": v for k, v in summary["trials"].items()}})
    run.finish()
