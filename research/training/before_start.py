"""A Hydra callback that checks the config before Hydra creates anything: a run before its
folder exists, a basic-sweeper multirun before its sweep folder exists, every job of it.

A refused value is one line on stderr, exit code 2, and nothing on disk. A multirun's bad
value, fixed or swept, stops the whole multirun before its first job, so no half-run sweep
is left for a report to count. Other sweepers check their own jobs (the Optuna sweeper's
pre-flight). Only research.train's configs are checked (the callback may serve other apps).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from research.config.checks import validate
from research.config.errors import ConfigError
from research.config.job import as_job, as_sweep_job, hydra_config_kept

RUN_CONFIG_KEYS = ("seed", "optimized_metric", "data", "model", "optimizer", "trainer")
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def refuse(error: ConfigError) -> NoReturn:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)


def is_run_config(config: DictConfig) -> bool:
    return all(key in config for key in RUN_CONFIG_KEYS)


def basic_sweep_jobs(config: DictConfig) -> list[list[str]]:
    """The overrides of each job, as the basic sweeper expands them."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    arguments = [*params, *OmegaConf.to_container(config.hydra.overrides.task)]
    loader = GlobalHydra.instance().config_loader()
    overrides = OverridesParser.create(config_loader=loader).parse_overrides(arguments)
    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]


def job_configs(config: DictConfig, jobs: list[list[str]]) -> Iterator[DictConfig]:
    loader = GlobalHydra.instance().config_loader()
    for num, overrides in enumerate(jobs):
        yield as_sweep_job(loader.load_sweep_config(config, overrides), num)


def swept(jobs: list[list[str]], num: int) -> str:
    """Job `num`'s overrides that differ between jobs (seed=1), or all of them if none do."""
    varying = [i for i in range(len(jobs[num])) if len({job[i] for job in jobs}) > 1]
    return " ".join(jobs[num][i] for i in varying) or " ".join(jobs[num])


def check_jobs(config: DictConfig, jobs: list[list[str]], in_process: bool) -> None:
    """Every job's values, then the objects of every distinct data/model/optimizer among
    them, built once each (a sweep over seeds builds one); jobs that run in this process
    (the basic launcher) also need their accelerator here."""
    from research.training.built_checks import check_built
    from research.training.pipeline import check_accelerator

    configs = []
    for num, job in enumerate(job_configs(config, jobs)):  # each sets its HydraConfig
        in_job(validate, job, num, jobs)
        configs.append(job)
    built: set[str] = set()
    for num, job in enumerate(configs):
        key = repr([_plain(job.get(k)) for k in ("data", "model", "optimizer")])
        if key not in built:
            built.add(key)
            in_job(check_built, job, num, jobs)
        if in_process:
            in_job(lambda job: check_accelerator(job.trainer), job, num, jobs)


def in_job(check: Callable[[DictConfig], None], job: DictConfig, num: int, jobs: list) -> None:
    """`check(job)`, its error saying which job and that none was started."""
    try:
        check(job)
    except ConfigError as error:
        where = f"job #{num}: {swept(jobs, num)}; " if len(jobs) > 1 else ""
        raise ConfigError(f"{error} ({where}no job was started)") from None


def _plain(node: Any) -> Any:
    """A node without its `seed` (a data module's shuffling seed changes nothing built)."""
    plain = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    return {k: v for k, v in plain.items() if k != "seed"} if isinstance(plain, dict) else plain


class CheckBeforeStart(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not is_run_config(config):
            return
        try:
            with hydra_config_kept():
                validate(as_job(config, str(config.hydra.run.dir)))
        except ConfigError as error:
            refuse(error)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not is_run_config(config) or config.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
            return
        try:
            with hydra_config_kept():
                launcher = str(config.hydra.launcher.get("_target_"))
                check_jobs(config, basic_sweep_jobs(config), launcher == BASIC_LAUNCHER)
        except ConfigError as error:
            refuse(error)
