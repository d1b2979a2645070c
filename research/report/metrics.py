"""What a metric name means: which direction is better, and how to label it for a reader."""

from __future__ import annotations

SPLITS = {"train": "training", "val": "validation", "test": "test"}
# A loss has no unit the report can name: a network's is cross-entropy (nats), a problem's
# (research.problems) the objective's own value, linear or quadratic.
QUANTITIES: dict[str, tuple[str, str | None]] = {
    "acc": ("accuracy", "fraction"),
    "loss": ("loss", None),
    "loss_epoch": ("loss, epoch mean", None),
}
TRAIN_LOSS_STEP = "train/loss"
TRAIN_LOSS_EPOCH = "train/loss_epoch"


def higher_is_better(metric: str) -> bool:
    """Accuracy-like metrics are maximised, everything else (losses, errors) minimised."""
    return "acc" in metric.rsplit("/", 1)[-1]


def metric_label(metric: str, unit: bool = True) -> str:
    """'val/acc' -> 'validation accuracy (fraction)': axis labels a reviewer can read."""
    split, _, quantity = metric.partition("/")
    if split not in SPLITS or quantity not in QUANTITIES:
        return metric
    name, units = QUANTITIES[quantity]
    return f"{SPLITS[split]} {name}" + (f" ({units})" if unit and units else "")
