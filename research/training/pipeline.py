"""One training run, start to end: config -> objects -> Trainer -> results.json.

Kept apart from the Hydra entry point so `python -m research.train --help` and `--cfg job`
never import torch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint, ProgressBar

from research.config.errors import ConfigError
from research.config.objectives import metric_names, several
from research.data.base import InMemoryDataModule
from research.models.base import Model
from research.optim.base import ChainedOptimizer
from research.tracking.atomic import WriteFailed
from research.tracking.checkpoint_io import AtomicCheckpointIO
from research.tracking.continuity import RunContinuity, continue_loggers
from research.tracking.history import MetricHistory
from research.tracking.metadata import git_commit, package_versions
from research.tracking.results import RESULTS_FILE, Status, finite_or_none, write_json_atomic
from research.tracking.run_summary import run_summary
from research.tracking.wandb_lost import mirror, wandb_lost
from research.training.callbacks.preemption import CheckpointOnSigterm
from research.training.callbacks.progress import StepProgressBar
from research.training.cluster import cluster_plugins, requeued_checkpoint
from research.training.ddp_relaunch import relaunch_as_this_job
from research.training.module import DivergedError, RunPruned, SupervisedModule
from research.training.quiet import silence_library_notices
from research.training.resume_checks import check_resume
from research.training.signals import interruption_in, signals_as_exceptions
from research.training.threads import set_torch_threads

log = logging.getLogger(__name__)


def optimizer_factory(cfg: DictConfig) -> Any:
    """The optimizer config as a factory of optimizers, its values checked now: a bad value of
    one of the project's optimizers is a one-line error at start-up, not a traceback from
    inside the Trainer."""
    factory = instantiate(cfg)
    target = getattr(factory, "func", None)
    if isinstance(target, type) and issubclass(target, ChainedOptimizer):
        try:
            target.check_hyperparameters(**factory.keywords)
        except TypeError as error:
            raise ConfigError(f"optimizer: {error}") from None
        except ValueError as error:
            raise ConfigError(f"optimizer.{error}") from None
    return factory


def build_model(cfg: DictConfig, datamodule: InMemoryDataModule) -> torch.nn.Module:
    options = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(options, dict)
    compile_model = options.pop("compile", False)
    net: Model = instantiate(options, _convert_="all")(spec=datamodule.spec)
    return torch.compile(net) if compile_model else net


@contextmanager
def refusals_named(group: str) -> Iterator[None]:
    """A value a class refuses while `group` is built (a ValueError, or Lightning's
    MisconfigurationException) is a one-line error naming the group; the declared checks
    (research.config.groups) catch most values before this, and this catches the rest."""
    try:
        yield
    except ConfigError:
        raise
    except (InstantiationException, ValueError, MisconfigurationException) as error:
        cause = error.__cause__ if isinstance(error, InstantiationException) else error
        if isinstance(cause, ConfigError):
            raise cause from None
        if not isinstance(cause, ValueError | MisconfigurationException):
            raise
        raise ConfigError(f"{group}: {str(cause).strip().splitlines()[0]}") from None


def instantiate_each(group: DictConfig | None, name: str) -> list[Any]:
    """A config group that is a dict of named `_target_` nodes, as a list of objects; a
    value one of them refuses (a ValueError) is a one-line error naming the node."""
    objects = []
    for key, node in (group or {}).items():
        if node is None:
            continue
        try:
            objects.append(instantiate(node))
        except InstantiationException as error:
            if isinstance(error.__cause__, ValueError):
                raise ConfigError(f"{name}.{key}: {error.__cause__}") from None
            raise
    return objects


def resolve_checkpoint(ckpt_path: str | None, output_dir: Path) -> str | None:
    if ckpt_path != "last":
        if ckpt_path and not Path(ckpt_path).is_file():
            raise ConfigError(f"ckpt_path={ckpt_path} is not a file: give a checkpoint or `last`")
        return ckpt_path
    last = output_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        log.warning("ckpt_path=last but %s does not exist: starting from scratch", last)
        return None
    return str(last)


def check_accelerator(trainer: DictConfig) -> None:
    accelerator = str(trainer.get("accelerator"))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={accelerator} needs a CUDA GPU, and torch finds none here: "
            "use trainer=cpu (or trainer=ddp_cpu for DDP across CPU processes)"
        )


def finish_wandb(status: Status, summary: dict[str, Any]) -> None:
    import wandb

    if wandb.run is None or wandb_lost():
        return
    mirror(wandb.run.summary.update, {"status": status, **summary})
    mirror(wandb.finish, exit_code=0 if status in ("completed", "pruned") else 1)


def keeps_earlier_record(
    status: Status, resume: Any, trainer: pl.Trainer, output_dir: Path
) -> bool:
    """A resume that failed before it took a step trained nothing: the run's record stays what
    it was rather than a failed run with no history."""
    return (
        status == "failed"
        and resume is not None
        and trainer.global_step <= resume.global_step
        and (output_dir / RESULTS_FILE).is_file()
    )


def announce(record: dict[str, Any], results_path: Path) -> None:
    """A run prints its summary; a multirun's jobs log one line each (the sweep ends with a
    table of them)."""
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        names, values = record["optimized_metric"], record["optimized_value"]
        pairs = zip(names, values, strict=True) if isinstance(names, list) else [(names, values)]
        metrics = ", ".join(f"{name}={value}" for name, value in pairs)
        log.info("%s: %s (%s)", record["status"], metrics, results_path)
    else:
        print(run_summary(record, results_path), flush=True)


def train(
    cfg: DictConfig, extra_callbacks: Sequence[pl.Callback] = ()
) -> float | list[float | None] | None:
    """Fit, test and record one run; `extra_callbacks` lets scripts observe it (benchmarks).

    Returns the value of `optimized_metric`, or, when that is a list (a multi-objective
    search), the list of their values in its order, as Hydra's Optuna sweeper expects."""
    silence_library_notices()
    output_dir = Path(cfg.paths.output_dir)
    # a requeued SLURM job (preemption) runs the same command again: it continues itself
    checkpoint = resolve_checkpoint(cfg.ckpt_path, output_dir) or requeued_checkpoint(output_dir)
    resume = check_resume(checkpoint, cfg) if checkpoint else None
    check_accelerator(cfg.trainer)
    log.info("Run folder: %s", output_dir)
    if resume:
        log.info(
            "Resuming from %s: %d epochs and %d steps done",
            resume.path, resume.epochs_done, resume.global_step,
        )  # fmt: skip
    set_torch_threads(cfg.get("torch_threads"))
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    with refusals_named("data"):
        datamodule: InMemoryDataModule = instantiate(cfg.data, steps_per_batch=cfg.steps_per_batch)
        datamodule.splits  # noqa: B018 (read now: a file too short for seq_len is refused here)
    datamodule.resume_within_epoch = resume.steps_into_epoch if resume else 0
    with refusals_named("model"):
        net = build_model(cfg.model, datamodule)
    module = SupervisedModule(
        net=net,
        optimizer=optimizer_factory(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        check_finite_every_n_steps=cfg.check_finite_every_n_steps,
        divergence_factor=cfg.get("divergence_factor"),
        gradient_clip_val=cfg.trainer.get("gradient_clip_val"),
    )
    history = MetricHistory()
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    continuity = RunContinuity(resume.elapsed_s if resume else 0.0, resolved)
    callbacks = [
        history,
        continuity,
        CheckpointOnSigterm(output_dir / "checkpoints" / "last.ckpt"),
        *instantiate_each(cfg.get("callbacks"), "callbacks"),
        *extra_callbacks,
    ]
    if not cfg.trainer.get("enable_progress_bar", True):  # Lightning refuses a bar callback then
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    elif not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(StepProgressBar())  # Lightning's default bar would count chunks
    if cfg.get("trial"):  # set by the sweeper: a `_target_` that builds the reporting callbacks
        callbacks += instantiate(cfg.trial, monitor=cfg.optimized_metric)
    loggers = instantiate_each(cfg.get("logger"), "logger")
    continue_loggers(loggers, resume)
    with refusals_named("trainer"):
        trainer: pl.Trainer = instantiate(
            cfg.trainer,
            callbacks=callbacks,
            logger=loggers,
            plugins=[AtomicCheckpointIO(), *cluster_plugins()],
            gradient_clip_val=None,  # the module clips: its optimization is manual
            # Lightning would add its own ModelCheckpoint, writing a file every epoch;
            # checkpoints/last.ckpt comes from the callbacks config (`LastCheckpoint`)
            enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        )
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
                ckpt_path=checkpoint,
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
        names = metric_names(cfg.optimized_metric)
        values = [final.get(name) for name in names]
        listed = several(cfg.optimized_metric)
        if trainer.is_global_zero and keeps_earlier_record(status, resume, trainer, output_dir):
            log.warning("The resumed run failed before its first step: %s is unchanged",
                        output_dir / RESULTS_FILE)  # fmt: skip
        elif trainer.is_global_zero:
            record = {
                "status": status,
                "reason": reason,
                "optimized_metric": names if listed else names[0],
                "optimized_value": [finite_or_none(v) for v in values]
                if listed
                else finite_or_none(values[0]),
                "final": {k: finite_or_none(v) for k, v in final.items()},
                "best": {k: finite_or_none(v) for k, v in history.best().items()},
                "global_step": trainer.global_step,
                "epochs": len(history.epochs),
                "wall_time_s": round(continuity.elapsed_s(), 3),
                "seed": cfg.seed,
                "output_dir": str(output_dir),
                "git_commit": git_commit(Path(__file__).parent),
                "versions": package_versions(),
                "history": history.epochs,
                "config": resolved,
            }
            try:
                write_json_atomic(output_dir / RESULTS_FILE, record)
            except WriteFailed as error:
                if status != "failed":
                    raise
                log.error("%s: the run's failure is not recorded there", error)
            finish_wandb(status, {f"final/{k}": v for k, v in record["final"].items()})
            if status != "failed":
                announce(record, output_dir / RESULTS_FILE)
    if status not in ("completed", "pruned"):
        return None
    return values if listed else values[0]
