"""A `custom_search_space` function, as Hydra's Optuna sweeper plugin calls it."""

from __future__ import annotations

import optuna
from omegaconf import DictConfig


def more_epochs(cfg: DictConfig, trial: optuna.Trial) -> None:
    """Define-by-run: a parameter the `params` syntax does not name."""
    trial.suggest_int("trainer.max_epochs", 1, 2)
