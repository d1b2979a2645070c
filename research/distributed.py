"""Lightning's DDP launcher inside Hydra.

For every extra rank Lightning re-runs `sys.argv` with `hydra.run.dir=<HydraConfig run.dir>`.
Inside a multirun that command is the whole sweep, so rank 1 would start a second sweep
with other hyperparameters, writing elsewhere. While the Trainer launches its ranks, this
makes the command exactly this job: its own overrides and its own output folder.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf import open_dict, read_write


@contextmanager
def relaunch_as_this_job(output_dir: str) -> Iterator[None]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        yield
        return
    hydra_cfg = HydraConfig.get()
    saved_argv, saved_run_dir = sys.argv, hydra_cfg.run.dir
    sys.argv = [sys.argv[0], *hydra_cfg.overrides.task]
    with read_write(hydra_cfg), open_dict(hydra_cfg):
        hydra_cfg.run.dir = output_dir
    try:
        yield
    finally:
        sys.argv = saved_argv
        with read_write(hydra_cfg), open_dict(hydra_cfg):
            hydra_cfg.run.dir = saved_run_dir
