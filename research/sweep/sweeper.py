"""The ask/tell loop behind `hydra/sweeper=optuna`.

Each round: (under a lock shared with other sweep processes) fail trials whose heartbeat
stopped, count the study, ask for up to n_jobs new trials; launch them through Hydra's launcher
with the sampled values and a `trial=...` override as their overrides; tell Optuna what each
run's results.json says. The round repeats until the study holds n_trials counted trials (see
`counts`), so re-running the same command resumes, and two sweeps on one study share the work.
The trial's overrides (and the storage URL in the environment, never in a file) carry
everything a run needs: DDP ranks relaunched with the job's overrides report to the same trial,
and never create one. A trial that ends without a verdict (its job cancelled, preempted or
killed) does not count and its parameters run again (`retry`); in-process, a signal stops the
sweep.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf
from optuna.storages import BaseStorage
from optuna.trial import Trial

from research.config.errors import ConfigError
from research.sweep import credentials, wandb_summary
from research.sweep.counts import TrialCounts, count_trials
from research.sweep.devices import devices_override, gpu_slots, visible_gpus
from research.sweep.experiment import FIXED_ATTR, check_experiment, fixed_part
from research.sweep.factories import check_several_objectives, make_pruner, make_sampler
from research.sweep.folders import NO_FOLDER, SweepFolder, trial_subdir
from research.sweep.legacy_space import legacy_params
from research.sweep.liveness import fail_stale, record_heartbeat
from research.sweep.outage import storage_error_in
from research.sweep.outcome import Outcome, interrupted, launch_failed, lost, outcome_of, tell
from research.sweep.preflight import preflight
from research.sweep.pruning import PRUNER_ATTR, TRIAL_CALLBACKS
from research.sweep.retry import RESUME_FROM, retry_lost
from research.sweep.space import SearchSpace, parse_search_space, quoted
from research.sweep.stop import (
    SigtermReceived,
    signal_named_in,
    signal_number,
    sigterm_raises,
    stopped_line,
)
from research.sweep.storage import heartbeat, masked, open_storage, parse_url, study_lock
from research.sweep.submitit_jobs import JobLost, is_submitit, launch_each
from research.sweep.summary import (
    APPLIED_PARAMS,
    is_multi_objective,
    leaderboard,
    print_leaderboard,
    summarize,
    write_results,
)
from research.sweep.thresholds import StepThresholds

log = logging.getLogger(__name__)


class SweepStopped(RuntimeError):
    """The sweep ended before n_trials counted: its message is the one line the user sees."""

    exit_code = 1


class TooManyFailuresError(SweepStopped):
    """More than max_failure_rate x n_trials trials failed or diverged."""


class SweepInterrupted(SweepStopped):
    """A signal stopped the sweep, or a trial that ran inside this process: the sweep stops."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class TooManyLostError(SweepStopped):
    """Trial after trial ended without a verdict: something kills every job."""


DEFAULT_STORAGE = "sqlite:///{cwd}/optuna/studies.db"


class OptunaSweeperImpl:
    def __init__(
        self,
        *,
        study_name: str | None,
        storage: str | None,
        direction: str | Sequence[str],
        n_trials: int,
        n_jobs: int | None,
        seed: int | None,
        max_failure_rate: float,
        params: Mapping[str, Any],
        enqueue: list[Mapping[str, Any]],
        heartbeat_interval: int,
        grace_period: int,
        retry_killed: int,
        gpus_per_trial: int | None,
        sampler: Mapping[str, Any] | None,
        pruner: Mapping[str, Any] | None,
        search_space: Mapping[str, Any] | None = None,
        custom_search_space: str | None = None,
    ) -> None:
        self.study_name = study_name
        self.storage_url = storage or ""  # null (Hydra's plugin: in memory): the default file
        self.directions = _directions(_plain(direction))
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.seed = seed
        self.max_failure_rate = max_failure_rate
        self.params = {**legacy_params(_plain(search_space) or {}), **(_plain(params) or {})}
        self.custom_search_space = custom_search_space
        self.enqueue = _plain(enqueue) or []
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.retry_killed = retry_killed
        self.gpus_per_trial = gpus_per_trial
        self.sampler = _plain(sampler)
        self.pruner = _plain(pruner) or {"name": "none"}
        check_several_objectives(self.directions, self.sampler, self.pruner)
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Launcher | None = None
        self.job_idx = 0
        self.ran = 0  # trials this sweep launched
        self.held_at_start = 0  # counted trials the study held when this sweep started

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.storage_url = self.storage_url or DEFAULT_STORAGE.format(cwd=config.hydra.runtime.cwd)
        credentials.scrub(config, self.storage_url)
        credentials.scrub_hydra_config(self.storage_url)
        credentials.hand_to_trials(self.storage_url)
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        choices = config.hydra.runtime.choices
        self.study_name = (  # another app has no task_name: Hydra's job name stands for it
            self.study_name
            or choices.get("hparams_search")
            or config.get("task_name")
            or config.hydra.job.name
        )
        in_process = self.in_process = isinstance(self.launcher, BasicLauncher)
        if in_process and (self.n_jobs or 1) > 1:
            log.warning("The basic launcher runs one trial at a time: use hydra/launcher=joblib")
        self.batch_size = 1 if in_process else self.n_jobs or _launcher_jobs(config)
        # A submitit job gets its GPUs from the launcher (hydra.launcher.gpus_per_node), not
        # from this process's devices.
        shares_gpus = self.batch_size > 1 and not is_submitit(self.launcher)
        n_gpus = visible_gpus(config.trainer.get("accelerator")) if shares_gpus else 0
        self.gpu_slots = gpu_slots(n_gpus, self.batch_size, self.gpus_per_trial) if n_gpus else []
        self.wandb = wandb_summary.wandb_node(config)

    def sweep(self, arguments: list[str]) -> None:
        assert self.config is not None and self.hydra_context is not None
        parse_url(self.storage_url)
        space = parse_search_space(self.params, arguments, self.hydra_context.config_loader)
        first = space.first_point(space.to_sampled(self.enqueue[0]) if self.enqueue else None)
        loader = self.hydra_context.config_loader
        job = preflight(loader, self.config, space.overrides(first), self.directions)
        self._build_sampler_and_pruner(space)
        fixed = fixed_part(job, [p.key for p in space.params])
        if not space.params:
            log.warning("Nothing to search: set hydra.sweeper.params or pass interval()/choice()")
        if (self.sampler or {}).get("name") == "grid" and space.grid_size() < self.n_trials:
            log.info("The grid has %d points: n_trials=%d", space.grid_size(), space.grid_size())
            self.n_trials = space.grid_size()
        sweep_dir = Path(self.config.hydra.sweep.dir).absolute()
        self.folder = SweepFolder(sweep_dir, self.config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # Heartbeats are recorded by this loop itself (see storage.heartbeat).
            warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used")
            with study_lock(self.storage_url):
                storage = open_storage(self.storage_url, self.heartbeat_interval, self.grace_period)
                study = self._study(storage, space, fixed)
            counts = self._optimize_until_stopped(study, storage, space)
        metric = _plain(self.config.get("optimized_metric"))
        summary = summarize(study, counts, masked(self.storage_url), metric, self.n_trials)
        summary["trials_run_by_this_sweep"] = self.ran
        path = write_results(summary, sweep_dir) if self.folder.exists() else NO_FOLDER
        print_leaderboard(leaderboard(study, counts, metric))
        log.info("%s (%s)", self._result_line(study, summary, metric), path)
        if self.wandb is not None and self.folder.exists():
            wandb_summary.log_study(self.wandb, study, summary, sweep_dir)
        if self._too_many_failures(counts):
            raise TooManyFailuresError(
                f"{counts.failed} trials failed, more than max_failure_rate="
                f"{self.max_failure_rate} x n_trials={self.n_trials}; see {path}"
            )
        if self._too_many_lost(counts):
            raise TooManyLostError(
                f"{counts.lost} trials ended without a verdict (killed, cancelled), more than "
                f"{self._lost_limit()}: something stops every job; see their logs and {path}"
            )

    def _build_sampler_and_pruner(self, space: SearchSpace) -> None:
        """Once before anything is created: a value Optuna refuses is one line, not a
        traceback after the sweep folder and the study exist."""
        for kind, build in (
            ("sampler", lambda: make_sampler(self.sampler, space, self.seed)),
            ("pruner", lambda: make_pruner(self.pruner)),
        ):
            try:
                build()
            except ConfigError:
                raise
            except (TypeError, ValueError) as error:
                raise ConfigError(f"hydra.sweeper.{kind}: {error}") from None

    def _study(
        self, storage: BaseStorage, space: SearchSpace, fixed: dict[str, Any]
    ) -> optuna.Study:
        """Create or load the study (under the study lock); an existing one must hold the same
        experiment (see `experiment`). The sampler seed is offset by the trials already there,
        so that a resumed sweep does not replay the first run's start-up points."""
        assert self.config is not None and self.study_name is not None
        study_id = _study_id(storage, self.study_name)
        trials = [] if study_id is None else storage.get_all_trials(study_id, deepcopy=False)
        if study_id is not None:
            existing_directions = [d.name.lower() for d in storage.get_study_directions(study_id)]
            if existing_directions != self.directions:
                raise ConfigError(
                    f"study {self.study_name} exists with direction "
                    f"{_text(existing_directions)}, not {_text(self.directions)}"
                )
            check_experiment(storage, study_id, self.study_name, fixed)
        seed = None if self.seed is None else self.seed + len(trials)
        # Optuna's own "A new study created" / "Using an existing study" lines: the line
        # logged below says the same, with the trial count
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = optuna.create_study(
                storage=storage,
                study_name=self.study_name,
                directions=self.directions,
                sampler=make_sampler(self.sampler, space, seed),
                pruner=make_pruner(self.pruner),
                load_if_exists=True,
            )
        finally:
            optuna.logging.set_verbosity(verbosity)
        if study_id is None:
            study.set_user_attr(FIXED_ATTR, fixed)
        study.set_user_attr(PRUNER_ATTR, self.pruner)
        self.thresholds = StepThresholds(study.pruner)
        study.set_user_attr("optimized_metric", _plain(self.config.get("optimized_metric")))
        for entry in self.enqueue:
            sampled = space.to_sampled(entry)
            if not _has_trial_with(study, sampled):
                study.enqueue_trial(sampled)
        where = f"Study {self.study_name} in {masked(self.storage_url)}"
        self.held_at_start = count_trials(trials).counted
        if self.held_at_start >= self.n_trials:
            log.info("%s already holds %d counted trial(s), n_trials=%d: nothing to run",
                     where, self.held_at_start, self.n_trials)  # fmt: skip
        else:
            log.info("%s: %d trial(s) so far, running until %d count",
                     where, len(trials), self.n_trials)  # fmt: skip
        return study

    def _result_line(self, study: optuna.Study, summary: dict[str, Any], metric: Any) -> str:
        """The sweep's last line; it says so when the results are not this sweep's own."""
        if is_multi_objective(study):
            result = f"Pareto front of {metric}: {len(summary['solutions'])} trial(s)"
        else:
            result = f"best {metric}: {summary['best_value']} with {summary['best_params']}"
        if self.ran:
            return result[0].upper() + result[1:]
        if self.held_at_start >= self.n_trials:
            return (
                f"Study {self.study_name} already held {self.held_at_start} counted trial(s) "
                f"(n_trials={self.n_trials}): nothing ran; its {result}"
            )
        return f"Study {self.study_name}: other sweeps ran all its trials; its {result}"

    def _optimize_until_stopped(
        self, study: optuna.Study, storage: BaseStorage, space: SearchSpace
    ) -> TrialCounts:
        self.stopped_trials = 0
        try:
            with sigterm_raises():
                return self._optimize(study, storage, space)
        except (KeyboardInterrupt, SigtermReceived) as error:
            signum = signal_number(error)
            raise SweepInterrupted(stopped_line(self.stopped_trials, signum), signum) from None

    def _optimize(
        self, study: optuna.Study, storage: BaseStorage, space: SearchSpace
    ) -> TrialCounts:
        while True:
            with study_lock(self.storage_url):
                fail_stale(study, self.grace_period)
                self.thresholds.publish(study)  # what running and new trials prune against
                counts = count_trials(study.get_trials(deepcopy=False))
                if (
                    counts.counted >= self.n_trials
                    or self._too_many_failures(counts)
                    or self._too_many_lost(counts)
                ):
                    return counts
                retry_lost(study, self.retry_killed)  # only while the study needs trials
                free = self.n_trials - counts.counted - counts.running
                trials = [study.ask(space.distributions) for _ in range(min(self.batch_size, free))]
                for trial in trials:
                    record_heartbeat(storage, trial._trial_id)
            if trials:
                self._run_batch(study, storage, space, trials)
            else:  # the remaining trials run in other processes: wait for them (or their death)
                log.info("Waiting for %d trial(s) running elsewhere", counts.running)
                time.sleep(self.heartbeat_interval)

    def _run_batch(
        self, study: optuna.Study, storage: BaseStorage, space: SearchSpace, trials: list[Trial]
    ) -> None:
        self.folder.make(study)
        if self.custom_search_space:
            extend = get_method(self.custom_search_space)
            for trial in trials:
                extend(self.config, trial)
        jobs = [self._job_overrides(space, trial, slot) for slot, trial in enumerate(trials)]
        self.ran += len(trials)
        for trial in trials:
            trial.set_user_attr(APPLIED_PARAMS, space.applied(trial.params))
            log.info("Trial %d: %s", trial.number, " ".join(space.overrides(trial.params)))
        with heartbeat(storage, [t._trial_id for t in trials], self.heartbeat_interval):
            try:
                outcomes = self._launch(jobs)
            except BaseException as error:  # Ctrl-C: these trials are lost, not failed
                for trial in trials:
                    tell(study, trial, interrupted(error))
                self.stopped_trials = len(trials)
                raise
        for trial, outcome in zip(trials, outcomes, strict=True):
            tell(study, trial, outcome)
        stopped = [o.reason for o in outcomes if o.fail_kind == "interrupted"]
        if stopped and self.in_process:
            signum = signal_named_in(stopped[0])
            raise SweepInterrupted(stopped_line(1, signum), signum)

    def _launch(self, jobs: list[list[str]]) -> list[Outcome]:
        assert self.launcher is not None
        initial_job_idx, self.job_idx = self.job_idx, self.job_idx + len(jobs)
        if is_submitit(self.launcher):
            returns = launch_each(self.launcher, jobs, initial_job_idx)
        else:
            try:
                returns = list(self.launcher.launch(jobs, initial_job_idx=initial_job_idx))
            except Exception as error:
                log.exception("The launcher failed for %d job(s)", len(jobs))
                return [launch_failed(error)] * len(jobs)
        return [self._outcome(job) for job in returns]

    def _outcome(self, job: JobReturn | BaseException) -> Outcome:
        if isinstance(job, BaseException):  # a submitit job that returned nothing
            log.warning("A trial's job ended without a verdict: %s", job)
            gone = isinstance(job, JobLost) or storage_error_in(job) is not None
            return lost(job) if gone else launch_failed(job)
        outcome = outcome_of(job, len(self.directions))
        if outcome.fail_kind == "interrupted" and not self.in_process:
            # A signal to the trial's own process (scancel, preemption, a killed worker), not
            # to this sweep: the trial is lost and runs again.
            return lost(outcome.reason or "interrupted", outcome.output_dir)
        if job.status == JobStatus.FAILED and outcome.fail_kind == "error":
            log.error("A trial raised", exc_info=job._return_value)
        elif outcome.fail_kind == "lost":
            log.warning("A trial stopped without a verdict: %s", outcome.reason)
        return outcome

    def _job_overrides(self, space: SearchSpace, trial: Trial, slot: int) -> list[str]:
        assert self.study_name is not None
        trial_node = (
            f"trial={{_target_:{TRIAL_CALLBACKS},"
            f"study_name:{quoted(self.study_name)},"
            f"trial_id:{trial._trial_id},number:{trial.number}}}"
        )
        known = space.distributions
        extra = [f"{k}={v}" for k, v in trial.params.items() if k not in known]  # custom space
        overrides = [*space.overrides(trial.params), *extra, trial_node]
        overrides += trial_subdir(self.config, trial.number)
        resume_from = trial.user_attrs.get(RESUME_FROM)
        if resume_from:  # the retry of a lost trial continues from where that one stopped
            overrides.append(f"ckpt_path={quoted(resume_from)}")
        if self.wandb is not None:
            overrides += wandb_summary.trial_overrides(self.study_name, trial.number)
        if self.gpu_slots:
            overrides.append(devices_override(self.gpu_slots[slot]))
        return overrides

    def _too_many_failures(self, counts: TrialCounts) -> bool:
        return counts.failed > self.max_failure_rate * self.n_trials

    def _too_many_lost(self, counts: TrialCounts) -> bool:
        return counts.lost > self._lost_limit()

    def _lost_limit(self) -> int:
        """Preemption may lose many trials, but not endlessly: each point and its retries."""
        return max(self.n_trials, 10) * (1 + self.retry_killed)


def _directions(direction: Any) -> list[str]:
    """`direction` as Hydra's plugin takes it: a string, or a list (one direction per objective,
    each the direction of the optimized_metric at its place)."""
    directions = [direction] if isinstance(direction, str) else list(direction or [])
    if not directions:
        raise ConfigError(f"hydra.sweeper.direction={direction!r} is invalid: maximize or minimize")
    for one in directions:
        if one not in ("maximize", "minimize"):
            raise ConfigError(
                f"hydra.sweeper.direction={one!r} is invalid: maximize or minimize"
                " (or a list of them, one per optimized_metric)"
            )
    return [str(one) for one in directions]


def _text(directions: list[str]) -> str:
    """One direction as the user writes it, several as a list."""
    return directions[0] if len(directions) == 1 else f"[{', '.join(directions)}]"


def _launcher_jobs(config: DictConfig) -> int:
    """The launcher's own parallelism, with joblib's convention: -1 all CPUs, -2 all but one."""
    n_jobs = config.hydra.launcher.get("n_jobs") or 1
    return max(1, n_jobs if n_jobs > 0 else (os.cpu_count() or 1) + 1 + n_jobs)


def _study_id(storage: BaseStorage, study_name: str) -> int | None:
    try:
        return storage.get_study_id_from_name(study_name)
    except KeyError:
        return None


def _has_trial_with(study: optuna.Study, sampled: Mapping[str, Any]) -> bool:
    """An `enqueue` entry already queued or run (a resumed sweep must not repeat it)."""
    for trial in study.get_trials(deepcopy=False):
        params = {**trial.params, **trial.system_attrs.get("fixed_params", {})}
        if all(name in params and params[name] == value for name, value in sampled.items()):
            return True
    return False


def _plain(node: Any) -> Any:
    """Hydra hands nested nodes over as DictConfig/ListConfig: JSON-able containers instead."""
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
