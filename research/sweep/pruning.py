"""A running trial's side of the study: report a value, ask whether to prune.

Optuna's `trial.should_prune()` hands the pruner the whole study, and its median (percentile)
pruner reads every completed trial (parameters, attributes, all intermediate values) to use
one number of each: its value at the reported step. From a fresh process that cost about
0.4 ms per trial in the study. Here a percentile pruner on a database storage gets a view of
the study whose completed trials hold only that number, fetched by one query; Optuna's own
pruner still decides, on the same numbers. The query still visits every completed trial, in
the database (about 2 us each a report on SQLite; `scripts/bench_study_size.py`). Other
pruners (Hyperband, successive halving, a class of one's own) and journal storages get
Optuna's study. Either way the storage is opened once per process and URL.

No torch or Lightning here: the sweep process imports this module for its constants.
"""

from __future__ import annotations

import functools
from types import MappingProxyType, SimpleNamespace
from typing import Any

import optuna
from optuna.pruners import PercentilePruner
from optuna.storages import BaseStorage, get_storage
from optuna.storages._rdb.models import TrialIntermediateValueModel, TrialModel
from optuna.study import StudyDirection
from optuna.trial import TrialState
from sqlalchemy import and_, bindparam, select

from research.sweep.factories import make_pruner
from research.sweep.outage import PatientRDBStorage
from research.sweep.storage import open_storage

PRUNER_ATTR = "pruner"  # study user attribute: the pruner spec the sweeper configured
STORAGE_ENV = "RESEARCH_SWEEP_STORAGE"  # set by the sweep process, inherited by its jobs
# The `_target_` of a run's `trial` node: a name, so that the sweeper imports no Lightning.
TRIAL_CALLBACKS = "research.sweep.reporting.trial_callbacks"
_SILENT = SimpleNamespace(intermediate_values=MappingProxyType({}))  # no value at the step


@functools.cache
def _storages(url: str) -> tuple[BaseStorage, BaseStorage]:
    """The storage as opened, and as Optuna uses it (an RDB one behind Optuna's cache of
    finished trials): one pair per process, which every trial the process runs shares."""
    opened = open_storage(url)
    return opened, get_storage(opened)


class TrialLink:
    """The running trial, with the study's own pruner (read from the storage)."""

    def __init__(self, storage_url: str, study_name: str, trial_id: int) -> None:
        opened, self.storage = _storages(storage_url)
        study_id = self.storage.get_study_id_from_name(study_name)
        pruner = make_pruner(self.storage.get_study_user_attrs(study_id).get(PRUNER_ATTR))
        # The sampler is unused here (the sweeper sampled): the cheapest one avoids TPE set-up.
        self.study = optuna.load_study(
            study_name=study_name,
            storage=self.storage,
            pruner=pruner,
            sampler=optuna.samplers.RandomSampler(),
        )
        self.trial_id = trial_id
        self.trial = optuna.trial.Trial(self.study, trial_id)
        fast = isinstance(pruner, PercentilePruner) and isinstance(opened, PatientRDBStorage)
        self._completed = CompletedAtStep(opened, study_id) if fast else None

    def report(self, value: float, step: int) -> bool:
        """Records `value` at `step`; True when the study's pruner says stop."""
        self.trial.report(value, step=step)
        if self._completed is None:
            return bool(self.trial.should_prune())
        trial = self.storage.get_trial(self.trial_id)
        step = trial.last_step
        view = StudyAtStep(self.study.direction, step, self._completed.values(step))
        return bool(self.study.pruner.prune(view, trial))  # type: ignore[arg-type]


class CompletedAtStep:
    """Reads, in one query, what every completed trial of a study reported at one step."""

    def __init__(self, storage: PatientRDBStorage, study_id: int) -> None:
        self.storage = storage
        value = TrialIntermediateValueModel
        at_step = and_(value.trial_id == TrialModel.trial_id, value.step == bindparam("step"))
        self.query = (
            select(value.intermediate_value, value.intermediate_value_type)
            .select_from(TrialModel)
            .outerjoin(value, at_step)
            .where(TrialModel.study_id == study_id, TrialModel.state == TrialState.COMPLETE)
        )

    def values(self, step: int | None) -> list[float | None]:
        """One entry per completed trial: its value at `step`, None where it reported none
        (no step: no trial is read, and the pruner keeps the trial)."""
        if step is None:
            return []
        stored = TrialIntermediateValueModel.stored_repr_to_intermediate_value

        def read() -> list[float | None]:
            with self.storage.engine.connect() as connection:
                rows = connection.execute(self.query, {"step": step}).all()
            return [None if kind is None else stored(number, kind) for number, kind in rows]

        return self.storage.patience.call(read)


class StudyAtStep:
    """The study as a percentile pruner reads it at the trial's last step: its direction, and
    its completed trials holding only their value at that step."""

    def __init__(
        self, direction: StudyDirection, step: int | None, values: list[float | None]
    ) -> None:
        self.direction = direction
        self._trials = [
            _SILENT if v is None else SimpleNamespace(intermediate_values={step: v}) for v in values
        ]

    def get_trials(
        self, deepcopy: bool = True, states: tuple[TrialState, ...] | None = None
    ) -> list[Any]:
        if states != (TrialState.COMPLETE,):  # what a percentile pruner asks for, nothing else
            raise NotImplementedError(f"only the completed trials are read, not {states}")
        return self._trials
