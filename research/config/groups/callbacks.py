"""Callback values: how often the last checkpoint is written (the `checkpoints` of a run),
how the progress bar is drawn, how often the optimizer is probed."""

from __future__ import annotations

from omegaconf import DictConfig

from research.config.groups.run import COUNT
from research.config.rules import Flag, Number, Rule, Text, check_fields, target_of

SECONDS = Number(low=0)

RULES: dict[str, dict[str, Rule]] = {
    "research.training.callbacks.checkpoint.LastCheckpoint": {
        "dirpath": Text(),
        "every_s": Number(low=0, infinite=True, why="0: at every chunk and epoch end"),
    },
    "research.training.callbacks.progress.StepProgressBar": {
        "refresh_rate": Number(low=0, integer=True, why="0: no bar"),
        "min_interval_s": SECONDS,
        "process_position": Number(low=0, integer=True),
        "leave": Flag(),
    },
    "research.training.callbacks.optim_diagnostics.OptimizerDiagnostics": {
        "every_n_steps": COUNT,
    },
}


def check(cfg: DictConfig) -> None:
    for name, node in (cfg.get("callbacks") or {}).items():
        if isinstance(node, DictConfig):
            check_fields(f"callbacks.{name}", node, RULES.get(target_of(node), {}))
