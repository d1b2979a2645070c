"""What a resumed run continues from its checkpoint besides the training state: the wall time
already spent and the W&B run, so that a run in several segments reads as one run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from pytorch_lightning.loggers import Logger, WandbLogger

from research.tracking.csv_logger import ContinuingCSVLogger

RECORD_KEY = "run_record"


@dataclass(frozen=True)
class ResumePoint:
    """A checkpoint as a resumed run sees it."""

    path: str
    global_step: int
    epochs_done: int
    steps_into_epoch: int  # > 0: saved mid-epoch (SIGTERM), after that many steps of it
    elapsed_s: float
    wandb_run_id: str | None
    config: dict[str, Any] | None  # the resolved config the checkpoint was trained with

    @classmethod
    def read(cls, path: str) -> ResumePoint:
        # memory-mapped: only the few numbers read here leave the disk, not the tensors
        # (Lightning loads the whole checkpoint once more to restore it)
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        record = checkpoint.get(RECORD_KEY, {})
        progress = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]
        return cls(
            path=path,
            global_step=int(checkpoint["global_step"]),
            epochs_done=int(progress["processed"]),
            steps_into_epoch=int(record.get("steps_into_epoch", 0)),
            elapsed_s=float(record.get("elapsed_s", 0.0)),
            wandb_run_id=record.get("wandb_run_id"),
            config=record.get("config") or _folder_config(path),
        )


def _folder_config(path: str) -> dict[str, Any] | None:
    """A checkpoint from before checkpoints held their config: its run folder's config."""
    saved = Path(path).absolute().parent.parent / ".hydra" / "config.yaml"
    if not saved.is_file():
        return None
    config = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
    return config if isinstance(config, dict) else None


class RunContinuity(pl.Callback):
    """Writes the run's wall time so far, its W&B run id and its config into every checkpoint."""

    def __init__(self, elapsed_before_s: float = 0.0, config: dict[str, Any] | None = None) -> None:
        self.elapsed_before_s = elapsed_before_s
        self.config = config
        self.started = time.time()
        self._epoch_start_step: int | None = None  # None: between epochs

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start_step = trainer.global_step
        if trainer.datamodule is not None:  # a resumed epoch started before its checkpoint
            self._epoch_start_step -= getattr(trainer.datamodule, "resume_within_epoch", 0)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch_start_step = None

    def elapsed_s(self) -> float:
        return self.elapsed_before_s + time.time() - self.started

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        wandb_ids = [str(lg.version) for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        checkpoint[RECORD_KEY] = {
            "elapsed_s": self.elapsed_s(),
            "steps_into_epoch": (
                0
                if self._epoch_start_step is None
                else trainer.global_step - self._epoch_start_step
            ),
            "wandb_run_id": wandb_ids[0] if wandb_ids else None,
            "config": self.config,
        }


def continue_loggers(loggers: list[Logger], resume: ResumePoint | None) -> None:
    """Before the loggers write anything: keep the rows the checkpoint covers, and log into
    the same W&B run (W&B continues a run only when given its id)."""
    for logger in loggers:
        if isinstance(logger, ContinuingCSVLogger):
            logger.resume_from_step = resume.global_step if resume else None
        elif isinstance(logger, WandbLogger) and resume and resume.wandb_run_id:
            # WandbLogger creates its run lazily from these arguments
            logger._wandb_init.update(id=resume.wandb_run_id, resume="allow")
