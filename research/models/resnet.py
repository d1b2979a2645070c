"""ResNet in its CIFAR form (He et al., 2016; the layout of kuangliu/pytorch-cifar): a 3x3
stem without max-pooling, so 32x32 images keep their resolution into the first stage."""

from __future__ import annotations

import torch
from torch import nn

from research.data.spec import DataSpec
from research.models.base import Model


class BasicBlock(nn.Module):
    """Two 3x3 conv + BatchNorm layers and a shortcut (1x1 conv where the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(Model):
    """Stages of `blocks[i]` basic blocks of `widths[i]` channels, each stage after the first
    halving the resolution; global average pooling, then a linear classifier. The defaults
    are ResNet-18 (11.2M parameters on CIFAR-10)."""

    accepts = ("image",)

    def __init__(
        self,
        spec: DataSpec,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        blocks: tuple[int, ...] = (2, 2, 2, 2),
        channels_last: bool = False,
    ) -> None:
        super().__init__(spec)
        if len(widths) != len(blocks) or not widths:
            raise ValueError(
                f"model.widths={list(widths)} and model.blocks={list(blocks)} must be "
                "non-empty and of the same length (one entry per stage)"
            )
        self.stem = nn.Sequential(
            nn.Conv2d(spec.shape[0], widths[0], 3, 1, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        )
        layers: list[nn.Module] = []
        in_channels = widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks, strict=True)):
            for block in range(count):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(in_channels, width, stride))
                in_channels = width
        self.stages = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(in_channels, spec.num_classes)
        self.channels_last_(channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.stages(self.stem(x))))
