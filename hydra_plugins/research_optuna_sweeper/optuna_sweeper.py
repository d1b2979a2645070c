"""The Sweeper class Hydra instantiates; it hands everything to `research.sweep.sweeper`.

Hydra only instantiates plugin classes that live under `hydra_plugins`, and imports this module
even for `--help`: the Optuna machinery (and torch) is imported only when a sweep starts.
"""

from __future__ import annotations

import sys
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class OptunaSweeper(Sweeper):
    def __init__(self, **options: Any) -> None:
        from research.config.errors import ConfigError
        from research.sweep.options import check_sweeper

        try:
            check_sweeper(options)  # before the sweeper (Optuna, Lightning) is imported
            from research.sweep.sweeper import OptunaSweeperImpl

            self._impl = OptunaSweeperImpl(**options)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        from research.config.errors import ConfigError
        from research.sweep.outage import StorageUnavailable
        from research.sweep.sweeper import SweepStopped

        try:
            self._impl.sweep(arguments)
        except ConfigError as error:  # a bad search space, storage or config: before any trial
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except SweepStopped as error:  # too many failures, interrupted: the record says why
            print(f"error: {error}", file=sys.stderr)
            sys.exit(error.exit_code)
        except StorageUnavailable as error:  # down for too long, damaged, refusing
            print(f"error: {error}", file=sys.stderr)
            sys.exit(error.exit_code)
