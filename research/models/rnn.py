"""LSTM and GRU over sequences: signals step by step, images row by row, tokens embedded."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from research.data.spec import DataSpec
from research.models.base import Model, SequenceFeatures


class RNN(Model):
    """Classifies from the last hidden state, or predicts every next token."""

    accepts = ("signal", "image", "tokens")
    language_modeling = True

    def __init__(
        self,
        spec: DataSpec,
        cell: Literal["lstm", "gru"] = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        embed_size: int = 64,
    ) -> None:
        super().__init__(spec)
        recurrent = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cell not in recurrent:
            raise ValueError(f"model.cell={cell!r} is not one of lstm, gru")
        self.features = SequenceFeatures(spec, embed_size)
        self.rnn = recurrent[cell](embed_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(self.features(x))
        if self.spec.task == "language_modeling":
            return self.head(outputs)
        return self.head(outputs[:, -1])
