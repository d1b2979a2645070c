"""A composed config as its job will see it, before the job exists: its output folder and
number filled in as Hydra's run_job and launchers fill them, and Hydra's runtime config set,
so that values such as `${paths.output_dir}` resolve when they are checked."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict, read_write


def as_job(config: DictConfig, output_dir: str, num: int | None = None) -> DictConfig:
    """`config` itself, with `hydra.runtime.output_dir` (and `hydra.job.num`) set."""
    with read_write(config.hydra), open_dict(config):
        if num is not None:
            config.hydra.job.num = num
        config.hydra.runtime.output_dir = os.path.abspath(output_dir)
    HydraConfig.instance().set_config(config)
    return config


def as_sweep_job(config: DictConfig, num: int) -> DictConfig:
    """A multirun's job `num`: its folder is the sweep folder's `subdir`."""
    with read_write(config.hydra), open_dict(config):
        config.hydra.job.num = num
    # a subdir may name what only the sweeper sets in each trial (`trial_${trial.number}`)
    subdir = OmegaConf.select(config, "hydra.sweep.subdir", throw_on_resolution_failure=False)
    subdir = str(num) if subdir is None else subdir
    return as_job(config, os.path.join(str(config.hydra.sweep.dir), str(subdir)), num)


@contextmanager
def hydra_config_kept() -> Iterator[None]:
    """Hydra's runtime config as it was before: checking a job must not change the caller's."""
    previous = HydraConfig.instance().cfg
    try:
        yield
    finally:
        HydraConfig.instance().cfg = previous
