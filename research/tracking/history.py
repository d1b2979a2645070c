"""Epoch-level metric history, kept in checkpoints so a resumed run reports the whole run."""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl

EPOCH_METRICS = ("train/loss_epoch", "train/acc", "val/loss", "val/acc")


def is_better(name: str, candidate: float, incumbent: float) -> bool:
    """Accuracy-like metrics are maximised, everything else (losses) minimised."""
    if name.endswith("acc"):
        return candidate > incumbent
    return candidate < incumbent


class MetricHistory(pl.Callback):
    """Records every epoch's metrics; answers final and best values for results.json."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning runs validation before this hook, so val/ metrics of this epoch are here.
        record = {"epoch": float(trainer.current_epoch), "step": float(trainer.global_step)}
        for name in EPOCH_METRICS:
            if name in trainer.callback_metrics:
                record[name] = float(trainer.callback_metrics[name])
        self.epochs.append(record)

    def final(self) -> dict[str, float]:
        final: dict[str, float] = {}
        for record in self.epochs:
            final.update({k: v for k, v in record.items() if k in EPOCH_METRICS})
        return final

    def best(self) -> dict[str, float]:
        best: dict[str, float] = {}
        for record in self.epochs:
            for name, value in record.items():
                if name not in EPOCH_METRICS or math.isnan(value):
                    continue
                if name not in best or is_better(name, value, best[name]):
                    best[name] = value
        return best

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = list(state_dict["epochs"])
