"""scikit-learn's 8x8 handwritten digits (1,797 images), shipped with the package."""

from __future__ import annotations

import torch

from research.data.base import InMemoryDataModule, Split, Splits, carve_validation
from research.data.spec import DataSpec


class DigitsDataModule(InMemoryDataModule):
    def __init__(self, test_fraction: float = 0.2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.test_fraction = test_fraction

    def load_splits(self) -> Splits:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        images = (images - images.mean()) / images.std()
        everything = Split(images, torch.as_tensor(digits.target, dtype=torch.long))
        rest, test = carve_validation(everything, self.test_fraction, self.split_seed)
        train, val = carve_validation(rest, self.val_fraction, self.split_seed + 1)
        spec = DataSpec(name="digits", kind="image", shape=(1, 8, 8), num_classes=10)
        return Splits(spec, train, val, test)
