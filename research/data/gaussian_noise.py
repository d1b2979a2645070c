"""Isotropic Gaussian samples: the data of DeepOBS's noisy quadratic problem."""

from __future__ import annotations

import torch

from research.data.base import InMemoryDataModule, Split, Splits
from research.data.spec import DataSpec


class GaussianNoiseDataModule(InMemoryDataModule):
    """`train_size` draws from N(0, noise_level² I) in `dim` dimensions for training, as many
    again for validation and for test; each split from its own fixed seed."""

    def __init__(
        self,
        dim: int = 100,
        train_size: int = 1000,
        noise_level: float = 0.6,
        data_seed: int = 42,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.dim = dim
        self.train_size = train_size
        self.noise_level = noise_level
        self.data_seed = data_seed

    def _draw(self, offset: int) -> Split:
        generator = torch.Generator().manual_seed(self.data_seed + offset)
        noise = self.noise_level * torch.randn(self.train_size, self.dim, generator=generator)
        return Split(noise, torch.zeros(self.train_size, dtype=torch.long))

    def load_splits(self) -> Splits:
        spec = DataSpec(name="gaussian_noise", kind="vector", shape=(self.dim,), task="objective")
        return Splits(spec, self._draw(0), self._draw(1), self._draw(2))
