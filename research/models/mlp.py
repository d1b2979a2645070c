"""Logistic regression and multi-layer perceptrons on flattened inputs."""

from __future__ import annotations

import torch
from torch import nn

from research.data.spec import DataSpec
from research.models.base import FlatFeatures, Model


class MLP(Model):
    """`depth` hidden layers of `width` units; depth=0 is multinomial logistic regression."""

    accepts = ("signal", "image", "tokens")

    def __init__(self, spec: DataSpec, width: int = 256, depth: int = 2) -> None:
        super().__init__(spec)
        self.features = FlatFeatures(spec)
        layers: list[nn.Module] = []
        size = self.features.size
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        layers.append(nn.Linear(size, spec.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.features(x))


class LogisticRegression(MLP):
    def __init__(self, spec: DataSpec) -> None:
        super().__init__(spec, depth=0)
