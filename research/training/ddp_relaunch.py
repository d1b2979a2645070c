"""Lightning's DDP launcher inside Hydra.

For every extra rank Lightning re-runs `sys.argv` with `hydra.run.dir=<HydraConfig run.dir>`.
Inside a multirun that command is the whole sweep, so rank 1 would start a second sweep
with other hyperparameters, writing elsewhere. While the Trainer launches its ranks, this
makes the command exactly this job: its own overrides and its own output folder.

A multirun also runs many jobs in one process: each job's process group and the rendezvous
variables Lightning puts in the environment must go when the job ends, or the next job
joins the previous job's (finished) ranks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf import open_dict, read_write


@contextmanager
def relaunch_as_this_job(output_dir: str) -> Iterator[None]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        with own_process_group():
            yield
        return
    hydra_cfg = HydraConfig.get()
    saved_argv, saved_run_dir = sys.argv, hydra_cfg.run.dir
    sys.argv = [sys.argv[0], *hydra_cfg.overrides.task]
    with read_write(hydra_cfg), open_dict(hydra_cfg):
        hydra_cfg.run.dir = output_dir
    try:
        with own_process_group():
            yield
    finally:
        sys.argv = saved_argv
        with read_write(hydra_cfg), open_dict(hydra_cfg):
            hydra_cfg.run.dir = saved_run_dir


@contextmanager
def own_process_group() -> Iterator[None]:
    saved_environ = dict(os.environ)
    try:
        yield
    finally:
        import torch.distributed

        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        os.environ.clear()
        os.environ.update(saved_environ)
