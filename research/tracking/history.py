"""Epoch-level metric history, kept in checkpoints so a resumed run reports the whole run."""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl

EPOCH_PREFIXES = ("train/", "val/")
STEP_METRICS = {"train/loss"}  # a window over the last steps, not the epoch


def is_epoch_metric(name: str) -> bool:
    return name.startswith(EPOCH_PREFIXES) and name not in STEP_METRICS


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
        record: dict[str, float] = {"epoch": trainer.current_epoch, "step": trainer.global_step}
        for name, value in trainer.callback_metrics.items():
            if is_epoch_metric(name):
                record[name] = float(value)
        self.epochs.append(record)

    def final(self) -> dict[str, float]:
        final: dict[str, float] = {}
        for record in self.epochs:
            final.update({k: v for k, v in record.items() if is_epoch_metric(k)})
        return final

    def best(self) -> dict[str, float]:
        best: dict[str, float] = {}
        for record in self.epochs:
            for name, value in record.items():
                if not is_epoch_metric(name) or math.isnan(value):
                    continue
                if name not in best or is_better(name, value, best[name]):
                    best[name] = value
        return best

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = list(state_dict["epochs"])
