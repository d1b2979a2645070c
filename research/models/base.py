"""What every model shares: the input kinds it accepts and how it reads each kind."""

from __future__ import annotations

import math

import torch
from torch import nn

from research.config.errors import ConfigError
from research.data.spec import DataSpec, InputKind


class IncompatibleDataError(ConfigError):
    """The model cannot read this dataset's inputs."""


class Model(nn.Module):
    """Base class: declares which inputs a model takes, so a bad pair fails before training."""

    accepts: tuple[InputKind, ...] = ()
    language_modeling: bool = False
    classification: bool = True  # False: a decoder that only predicts next tokens (GPT)

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        name = type(self).__name__
        if spec.kind not in self.accepts:
            raise IncompatibleDataError(
                f"model {name} cannot take {spec.kind} input from data {spec.name!r}: "
                f"it accepts {', '.join(self.accepts)}"
            )
        if spec.task == "language_modeling" and not self.language_modeling:
            raise IncompatibleDataError(
                f"model {name} cannot do language modelling (data {spec.name!r}): "
                "use model=gpt, transformer, lstm or gru"
            )
        if spec.task == "classification" and not self.classification:
            raise IncompatibleDataError(
                f"model {name} only does language modelling, and data {spec.name!r} is "
                "classification: use model=transformer (or lstm, gru, mlp)"
            )
        self.spec = spec

    def channels_last_(self, enabled: bool) -> None:
        """Store 4-D (2-D convolution) weights in NHWC order, the layout GPU tensor cores
        convolve fastest; convolutions then run, and hand on, their activations in it too."""
        if enabled:
            self.to(memory_format=torch.channels_last)

    def project_(self) -> None:
        """Return the parameters to the feasible set after an optimizer step; a
        constrained problem overrides this, networks are unconstrained."""

    def metrics(self) -> dict[str, torch.Tensor]:
        """Quantities of the parameters themselves worth a curve, logged as `val/<name>`."""
        return {}


class FlatFeatures(nn.Module):
    """Any input as one feature vector per sample; tokens become concatenated one-hots."""

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        self.vocab_size = spec.vocab_size if spec.kind == "tokens" else None
        per_position = self.vocab_size or 1
        self.size = math.prod(spec.shape) * per_position

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.vocab_size is not None:
            x = nn.functional.one_hot(x, self.vocab_size).float()
        return x.flatten(1)


class SequenceFeatures(nn.Module):
    """Any input as (batch, length, width): signals step through time, images row by row,
    tokens through an embedding."""

    def __init__(self, spec: DataSpec, width: int) -> None:
        super().__init__()
        self.kind = spec.kind
        if spec.kind == "tokens":
            assert spec.vocab_size is not None
            self.embed: nn.Module = nn.Embedding(spec.vocab_size, width)
        else:
            _, features = spec.sequence_shape
            self.embed = nn.Linear(features, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "signal":
            x = x.transpose(1, 2)
        elif self.kind == "image":
            x = x.permute(0, 2, 1, 3).flatten(2)
        return self.embed(x)
