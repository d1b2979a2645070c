"""A pre-norm Transformer encoder: over tokens (modular arithmetic, text) or as a sequence model
over signals and image rows."""

from __future__ import annotations

import torch
from torch import nn

from research.data.spec import DataSpec
from research.models.base import Model, SequenceFeatures


class Transformer(Model):
    """Classifies from the last position (the `=` token in modular arithmetic); for language
    modelling attention is causal and every position predicts the next token."""

    accepts = ("signal", "image", "tokens")
    language_modeling = True

    def __init__(
        self,
        spec: DataSpec,
        d_model: int = 128,
        num_heads: int = 4,
        num_layers: int = 2,
        ff_mult: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(spec)
        length, _ = spec.sequence_shape
        self.features = SequenceFeatures(spec, d_model)
        self.position = nn.Parameter(torch.randn(1, length, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model,
            num_heads,
            dim_feedforward=ff_mult * d_model,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, spec.num_classes)
        causal = spec.task == "language_modeling"
        mask = nn.Transformer.generate_square_subsequent_mask(length) if causal else None
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        h = h + self.position[:, : h.shape[1]]
        h = self.norm(
            self.encoder(h, mask=self.causal_mask, is_causal=self.causal_mask is not None)
        )
        if self.spec.task == "language_modeling":
            return self.head(h)
        return self.head(h[:, -1])
