"""Convolutional classifier: 1-D convolutions for signals, 2-D for images."""

from __future__ import annotations

import torch
from torch import nn

from research.data.spec import DataSpec
from research.models.base import Model


class CNN(Model):
    """Strided conv + ReLU blocks, then a linear classifier (the MNIST-1D paper's design)."""

    accepts = ("signal", "image")

    def __init__(
        self,
        spec: DataSpec,
        channels: tuple[int, ...] = (32, 32, 32),
        kernel_size: int = 5,
        stride: int = 2,
        channels_last: bool = False,
    ) -> None:
        super().__init__(spec)
        conv = nn.Conv1d if spec.kind == "signal" else nn.Conv2d
        layers: list[nn.Module] = []
        in_channels = spec.shape[0]
        for out_channels in channels:
            layers += [
                conv(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2),
                nn.ReLU(),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            size = self.features(torch.zeros(1, *spec.shape)).shape[1]
        self.classifier = nn.Linear(size, spec.num_classes)
        self.channels_last_(channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
