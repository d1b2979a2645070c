"""A small, fast CIFAR network in the style of the CIFAR-10 speedruns (Jordan, 2024, airbench94:
94% in a few seconds on one A100): a 2x2 patch layer, three conv groups that each pool by 2,
global max pooling and a scaled linear head; about 2M parameters.

Only the architecture is taken: airbench also whitens its first layer from the data, freezes
the BatchNorm gains and trains with label smoothing, lookahead and test-time flips, which
belong to a training recipe rather than to a model.
"""

from __future__ import annotations

import torch
from torch import nn

from research.data.spec import DataSpec
from research.models.base import IncompatibleDataError, Model


class ConvGroup(nn.Module):
    """conv -> 2x2 max-pool -> BN -> GELU -> conv -> BN -> GELU."""

    def __init__(self, in_channels: int, out_channels: int, bn_momentum: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(out_channels, momentum=bn_momentum)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels, momentum=bn_momentum)
        self.activation = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activation(self.norm1(self.pool(self.conv1(x))))
        return self.activation(self.norm2(self.conv2(x)))


class AirbenchNet(Model):
    """`widths` are the three groups' channels (airbench94: 64, 256, 256); the logits are
    multiplied by `scale` (1/9 in airbench94), which keeps the initial softmax soft."""

    accepts = ("image",)
    PATCH = 2  # the first layer's kernel: 32x32 images become 31x31

    def __init__(
        self,
        spec: DataSpec,
        widths: tuple[int, ...] = (64, 256, 256),
        patch_width: int = 24,
        bn_momentum: float = 0.4,
        scale: float = 1 / 9,
        channels_last: bool = False,
    ) -> None:
        super().__init__(spec)
        channels, height, width = spec.shape
        side = min(height, width) - self.PATCH + 1
        if side >> len(widths) < 1:
            need = (1 << len(widths)) + self.PATCH - 1
            raise IncompatibleDataError(
                f"model {type(self).__name__} cannot take {height}x{width} images from data "
                f"{spec.name!r}: its {len(widths)} pooling groups need at least {need}x{need}"
            )
        self.patches = nn.Sequential(nn.Conv2d(channels, patch_width, self.PATCH), nn.GELU())
        groups: list[nn.Module] = []
        in_channels = patch_width
        for out_channels in widths:
            groups.append(ConvGroup(in_channels, out_channels, bn_momentum))
            in_channels = out_channels
        self.groups = nn.Sequential(*groups)
        self.pool = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(in_channels, spec.num_classes, bias=False)
        self.scale = scale
        self.channels_last_(channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.groups(self.patches(x)))) * self.scale
