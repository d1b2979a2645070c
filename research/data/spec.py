"""What a model needs to know about its input, independent of where the data comes from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

InputKind = Literal["signal", "image", "tokens", "vector"]
Task = Literal["classification", "language_modeling", "objective"]


@dataclass(frozen=True)
class DataSpec:
    """Per-sample input description.

    `signal` inputs are (channels, length) float tensors, `image` inputs (channels, height,
    width) float tensors, `tokens` inputs (length,) integer tensors below `vocab_size`,
    `vector` inputs (dim,) float tensors that parametrise a problem's per-sample loss.
    Classification has one label per sample; language modelling one per position; an
    `objective` has no labels: the model's output is the loss itself.
    """

    name: str
    kind: InputKind
    shape: tuple[int, ...]
    num_classes: int = 0
    vocab_size: int | None = None
    task: Task = "classification"

    @property
    def sequence_shape(self) -> tuple[int, int]:
        """(length, features) when the input is read step by step (RNN, Transformer)."""
        if self.kind == "signal":
            channels, length = self.shape
            return length, channels
        if self.kind == "image":
            channels, height, width = self.shape
            return height, channels * width
        return self.shape[0], 1
