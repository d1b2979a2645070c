"""W&B for a study: each trial is a run `trial-<number>` in group <study name> (set through
the trial's overrides), and one `study-<name>` run in the same group holds the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig

from research.sweep.space import quoted
from research.sweep.summary import applied_params, ranked


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

    trials = ranked(study)
    keys = list(dict.fromkeys(k for t in trials for k in applied_params(t)))
    columns = ["trial", "state", "value", "epochs", *keys]
    rows = [
        [t.number, t.state.name.lower(), t.value, len(t.intermediate_values)]
        + [applied_params(t).get(k) for k in keys]
        for t in trials
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
    run.summary.update(
        {
            "best_value": summary["best_value"],
            "best_params": summary["best_params"],
            **{f"trials/{k}": v for k, v in summary["trials"].items()},
        }
    )
    run.finish()
