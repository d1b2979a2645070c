"""Checks of the composed config that run before anything is imported or computed, so a bad
override costs a second, not a training run. Each failure is one line naming the field, the
value and what is allowed; the rules of each group live in `research.config.groups`."""

from __future__ import annotations

from omegaconf import DictConfig

from research.config.groups import (
    callbacks,
    data,
    logger,
    model,
    optimizer,
    paths,
    run,
    scheduler,
    trainer,
)
from research.config.groups.run import check_optimized_metric

__all__ = ["check_optimized_metric", "validate"]

GROUPS = (run, optimizer, data, model, trainer, scheduler, callbacks, logger, paths)


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first invalid value found (run values first, then group by
    group)."""
    for group in GROUPS:
        group.check(cfg)
