"""The standard CIFAR augmentation (random crop with padding, horizontal flip) on whole batches
on the training device: one gather per batch instead of a Python call per image.

The random draws for an epoch are made at once on the CPU from a generator seeded by (seed,
epoch, rank), so a resumed run crops and flips exactly as an uninterrupted one, and the
device never waits on the host between batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class CropFlipDraws:
    """One epoch's draws: per image the crop's top-left corner and whether it is mirrored."""

    offsets: torch.Tensor  # (n, 2) in [0, 2 * padding]
    flips: torch.Tensor  # (n,) bool

    def to(self, device: torch.device) -> CropFlipDraws:
        return CropFlipDraws(self.offsets.to(device), self.flips.to(device))

    def slice(self, start: int, stop: int) -> CropFlipDraws:
        return CropFlipDraws(self.offsets[start:stop], self.flips[start:stop])


class CropFlip:
    """torchvision's `RandomCrop(size, padding)` then `RandomHorizontalFlip()`, batched.

    `fill` is each channel's padding value in the images' own scale: for normalised images,
    the value black takes after normalisation, as torchvision pads before normalising."""

    def __init__(self, padding: int = 4, fill: torch.Tensor | None = None) -> None:
        if padding < 0:
            raise ValueError(f"data.padding={padding} must be >= 0")
        self.padding = padding
        self.fill = fill

    def draw(self, n: int, generator: torch.Generator) -> CropFlipDraws:
        offsets = torch.randint(0, 2 * self.padding + 1, (n, 2), generator=generator)
        flips = torch.rand(n, generator=generator) < 0.5
        return CropFlipDraws(offsets, flips)

    def __call__(self, images: torch.Tensor, draws: CropFlipDraws) -> torch.Tensor:
        batch, channels, height, width = images.shape
        p = self.padding
        padded = images.new_zeros(batch, channels, height + 2 * p, width + 2 * p)
        if self.fill is not None:
            if self.fill.device != images.device:  # once: no copy from the host per batch
                self.fill = self.fill.to(images.device)
            padded += self.fill.view(1, channels, 1, 1)
        padded[..., p : p + height, p : p + width] = images
        device = images.device
        rows = draws.offsets[:, :1] + torch.arange(height, device=device)  # (batch, height)
        cols = draws.offsets[:, 1:] + torch.arange(width, device=device)  # (batch, width)
        cols = torch.where(draws.flips[:, None], cols.flip(1), cols)  # a mirrored crop
        return padded[
            torch.arange(batch, device=device)[:, None, None, None],
            torch.arange(channels, device=device)[None, :, None, None],
            rows[:, None, :, None],
            cols[:, None, None, :],
        ]
