"""Inside a trial's run: report the metric every epoch to its Optuna trial, prune on request.

A multi-objective trial (`optimized_metric` a list) reports nothing: Optuna's `trial.report`
takes one objective, and the sweeper refuses a pruner for several.

The trial is reached through the storage: study name and trial id come from the `trial` config
key, the storage URL from the environment the sweeper sets (STORAGE_ENV), so no password
reaches a run's config, overrides or W&B run; this works in any process the launcher picks.
Under DDP only rank 0 talks to the storage; its decision is broadcast so that every rank
stops at the same epoch.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl

from research.config.objectives import metric_names
from research.sweep.pruning import STORAGE_ENV, TrialLink
from research.sweep.retry import OUTPUT_DIR
from research.training.module import RunPruned

log = logging.getLogger(__name__)


class NoStorageError(RuntimeError):
    """A run with a `trial` node, started outside a sweep."""


def trial_callbacks(
    study_name: str, trial_id: int, number: int, monitor: str | Sequence[str]
) -> list[pl.Callback]:
    """The run's `trial` node names this function (`pruning.TRIAL_CALLBACKS`), so a run needs
    no import of the sweeper. `monitor` is the run's optimized_metric: one name is reported,
    several are not."""
    del number  # kept in the node for the run's record, not needed to reach the trial
    storage = os.environ.get(STORAGE_ENV)
    if not storage:
        raise NoStorageError(f"trial= is set by the Optuna sweeper, which sets {STORAGE_ENV}")
    names = metric_names(monitor)
    return [OptunaReporter(storage, study_name, trial_id, names[0] if len(names) == 1 else None)]


class OptunaReporter(pl.Callback):
    """Records the trial's run folder; reports `monitor` each epoch unless it is None (a
    multi-objective trial)."""

    def __init__(self, storage: str, study_name: str, trial_id: int, monitor: str | None) -> None:
        self.storage = storage
        self.study_name = study_name
        self.trial_id = trial_id
        self.monitor = monitor
        self._trial: TrialLink | None = None
        self._validated = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit" and trainer.is_global_zero:
            self._trial = TrialLink(self.storage, self.study_name, self.trial_id)
            # Known from the start, so a lost trial's retry finds its last checkpoint.
            output_dir = str(Path(trainer.default_root_dir).absolute())
            self._trial.trial.set_user_attr(OUTPUT_DIR, output_dir)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validated = self._validated or not trainer.sanity_checking

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Here rather than at validation end: MetricHistory has recorded the epoch, so the
        # run's results.json and the trial end on the same value.
        if self.monitor is None or not self._validated:  # several objectives, or no new
            return  # validation (check_val_every_n_epoch > 1): nothing to report
        self._validated = False
        message = self._report(trainer) if trainer.is_global_zero else None
        message = trainer.strategy.broadcast(message, src=0)
        if message:
            raise RunPruned(message)

    def _report(self, trainer: pl.Trainer) -> str | None:
        """Rank 0: report this epoch; a message when the pruner says stop."""
        assert self._trial is not None and self.monitor is not None
        if self.monitor not in trainer.callback_metrics:
            log.warning("%s is not logged: nothing reported to Optuna", self.monitor)
            return None
        value, epoch = float(trainer.callback_metrics[self.monitor]), trainer.current_epoch
        if not math.isfinite(value):
            return None
        if not self._trial.report(value, step=epoch):
            return None
        return f"pruned by Optuna at epoch {epoch} with {self.monitor}={value:.6g}"
