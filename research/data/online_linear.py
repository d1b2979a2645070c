"""Coefficient sequences for the online linear problem of Reddi, Kale & Kumar (2018)."""

from __future__ import annotations

import torch

from research.data.base import InMemoryDataModule, Split, Splits
from research.data.spec import DataSpec


class OnlineLinearDataModule(InMemoryDataModule):
    """Step t's loss is `large * x` once every `period` steps (t mod period = 1) and
    `small * x` otherwise; `stochastic` draws `large` with probability `large_probability`
    at every step instead.

    Training replays the sequence in order (`shuffle: false` in the config), so epoch after
    epoch is one long online run. Validation and test hold the coefficients of one period
    (or 1 / large_probability draws with one `large`), so `val/loss` is the expected loss per
    step at the current x.
    """

    def __init__(
        self,
        steps_per_epoch: int = 10100,
        period: int = 101,
        large: float = 1010.0,
        small: float = -10.0,
        stochastic: bool = False,
        large_probability: float = 0.01,
        data_seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if period < 2 or steps_per_epoch % period:
            raise ValueError(
                f"data.steps_per_epoch={steps_per_epoch} must be a multiple of "
                f"data.period={period} (>= 2), so every epoch continues the sequence"
            )
        self.steps_per_epoch = steps_per_epoch
        self.period = period
        self.large = large
        self.small = small
        if not 0.0 < large_probability <= 0.5 or not (1 / large_probability).is_integer():
            raise ValueError(
                f"data.large_probability={large_probability} must be 1/n for an integer n >= 2"
            )
        self.stochastic = stochastic
        self.large_probability = large_probability
        self.data_seed = data_seed

    def load_splits(self) -> Splits:
        if self.stochastic:
            generator = torch.Generator().manual_seed(self.data_seed)
            draws = torch.rand(self.steps_per_epoch, generator=generator)
            is_large = draws < self.large_probability
            cycle = round(1 / self.large_probability)
        else:
            is_large = torch.arange(self.steps_per_epoch) % self.period == 0  # t = index + 1
            cycle = self.period
        coefficients = torch.where(is_large, self.large, self.small).unsqueeze(1)
        one_cycle = torch.tensor([[self.large]] + [[self.small]] * (cycle - 1))
        expected = Split(one_cycle, torch.zeros(cycle, dtype=torch.long))
        spec = DataSpec(name="online_linear", kind="vector", shape=(1,), task="objective")
        train = Split(coefficients, torch.zeros(self.steps_per_epoch, dtype=torch.long))
        return Splits(spec, train, expected, expected)
