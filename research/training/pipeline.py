"""One training run, start to end: config -> objects -> Trainer -> results.json.

Kept apart from the Hydra entry point so `python -m research.train --help` and `--cfg job`
never import torch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ProgressBar

from research.data.base import InMemoryDataModule
from research.models.base import Model
from research.tracking.checkpoint_io import AtomicCheckpointIO
from research.tracking.history import MetricHistory
from research.tracking.metadata import git_commit, package_versions
from research.tracking.results import RESULTS_FILE, Status, finite_or_none, write_json_atomic
from research.training.cluster import cluster_plugins, requeued_checkpoint
from research.training.ddp_relaunch import relaunch_as_this_job
from research.training.module import DivergedError, RunPruned, SupervisedModule
from research.training.signals import interruption_in, signals_as_exceptions

log = logging.getLogger(__name__)


def build_model(cfg: DictConfig, datamodule: InMemoryDataModule) -> torch.nn.Module:
    options = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(options, dict)
    compile_model = options.pop("compile", False)
    net: Model = instantiate(options, _convert_="all")(spec=datamodule.spec)
    return torch.compile(net) if compile_model else net


def instantiate_each(group: DictConfig | None) -> list[Any]:
    """A config group that is a dict of named `_target_` nodes, as a list of objects."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node is not None]


def resolve_checkpoint(ckpt_path: str | None, output_dir: Path) -> str | None:
    if ckpt_path != "last":
        return ckpt_path
    last = output_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        log.warning("ckpt_path=last but %s does not exist: starting from scratch", last)
        return None
    return str(last)


def finish_wandb(status: Status, summary: dict[str, Any]) -> None:
    import wandb

    if wandb.run is None:
        return
    wandb.run.summary.update({"status": status, **summary})
    wandb.finish(exit_code=0 if status in ("completed", "pruned") else 1)


def train(cfg: DictConfig, extra_callbacks: Sequence[pl.Callback] = ()) -> float | None:
    """Fit, test and record one run; `extra_callbacks` lets scripts observe it (benchmarks)."""
    started = time.time()
    output_dir = Path(cfg.paths.output_dir)
    log.info("Run folder: %s", output_dir)
    if cfg.get("torch_threads"):
        torch.set_num_threads(cfg.torch_threads)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule: InMemoryDataModule = instantiate(cfg.data, steps_per_batch=cfg.steps_per_batch)
    module = SupervisedModule(
        net=build_model(cfg.model, datamodule),
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        check_finite_every_n_steps=cfg.check_finite_every_n_steps,
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
    )
    history = MetricHistory()
    callbacks = [history, *instantiate_each(cfg.get("callbacks")), *extra_callbacks]
    if not cfg.trainer.get("enable_progress_bar", True):  # Lightning refuses a bar callback then
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    if cfg.get("trial"):  # set by the sweeper: a `_target_` that builds the reporting callbacks
        callbacks += instantiate(cfg.trial, monitor=cfg.optimized_metric)
    loggers = instantiate_each(cfg.get("logger"))
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers,
        plugins=[AtomicCheckpointIO(), *cluster_plugins()],
        gradient_clip_val=None,  # the module clips: its optimization is manual
    )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(resolved)

    status: Status = "completed"
    reason = None
    test_metrics: dict[str, float] = {}
    try:
        with signals_as_exceptions(), relaunch_as_this_job(str(output_dir)):
            trainer.fit(
                module,
                datamodule=datamodule,
                ckpt_path=resolve_checkpoint(cfg.ckpt_path, output_dir)
                or requeued_checkpoint(output_dir),
                weights_only=True,
            )
            if cfg.test:
                (test_metrics,) = trainer.test(module, datamodule=datamodule, verbose=False)
    except DivergedError as error:
        status, reason = "diverged", str(error)
        log.warning("Run diverged: %s", error)
    except RunPruned as error:
        status, reason = "pruned", str(error)
        log.info("Run pruned: %s", error)
    except BaseException as error:
        cause = interruption_in(error) or error
        status, reason = "failed", f"{type(cause).__name__}: {cause}"
        raise
    finally:
        final = {**history.final(), **{k: float(v) for k, v in test_metrics.items()}}
        value = final.get(cfg.optimized_metric)
        if trainer.is_global_zero:
            record = {
                "status": status,
                "reason": reason,
                "optimized_metric": cfg.optimized_metric,
                "optimized_value": finite_or_none(value),
                "final": {k: finite_or_none(v) for k, v in final.items()},
                "best": {k: finite_or_none(v) for k, v in history.best().items()},
                "global_step": trainer.global_step,
                "epochs": len(history.epochs),
                "wall_time_s": round(time.time() - started, 3),
                "seed": cfg.seed,
                "output_dir": str(output_dir),
                "git_commit": git_commit(Path(__file__).parent),
                "versions": package_versions(),
                "history": history.epochs,
                "config": resolved,
            }
            write_json_atomic(output_dir / RESULTS_FILE, record)
            finish_wandb(status, {f"final/{k}": v for k, v in record["final"].items()})
    return value if status in ("completed", "pruned") else None
