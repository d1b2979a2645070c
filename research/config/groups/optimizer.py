"""The optimizer values every optimizer shares; the project's optimizers check the rest of
theirs themselves (`ChainedOptimizer.check_hyperparameters`, at the pipeline's start)."""

from __future__ import annotations

from omegaconf import DictConfig

from research.config.rules import Number, Rule, check_fields

UNIT_INTERVAL_OPEN = Number(low=0, high=1, high_open=True)
NON_NEGATIVE = Number(low=0)

RULES: dict[str, Rule] = {
    "lr": NON_NEGATIVE,
    "beta1": UNIT_INTERVAL_OPEN,
    "beta2": UNIT_INTERVAL_OPEN,
    "momentum": UNIT_INTERVAL_OPEN,
    "rho": UNIT_INTERVAL_OPEN,
    "eps": Number(low=0, low_open=True, why="it divides the update"),
    "weight_decay": NON_NEGATIVE,
}


def check(cfg: DictConfig) -> None:
    check_fields("optimizer", cfg.optimizer, RULES)
