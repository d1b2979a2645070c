"""MNIST-1D (Greydanus, 2020), generated procedurally by the `mnist1d` package: no download."""

from __future__ import annotations

import functools

import numpy as np
import torch

from research.data.base import InMemoryDataModule, Split, Splits, carve_validation
from research.data.spec import DataSpec


@functools.lru_cache(maxsize=4)
def generate(num_samples: int, train_split: float, seed: int) -> dict[str, np.ndarray]:
    """Generation takes seconds; a sweep running jobs in one process pays for it once."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.train_split = train_split
    args.seed = seed
    state = np.random.get_state()  # mnist1d seeds numpy's global generator
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(state)
    return {key: raw[key] for key in ("x", "y", "x_test", "y_test")}


class MNIST1DDataModule(InMemoryDataModule):
    """`num_samples` signals of length 40 in 10 classes; `train_split` of them for training.

    The package's standard set is 5,000 samples; more samples make the task easier to learn,
    which is why the default config generates 20,000.
    """

    def __init__(
        self, num_samples: int = 5000, train_split: float = 0.8, data_seed: int = 42, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.num_samples = num_samples
        self.train_split = train_split
        self.data_seed = data_seed

    def load_splits(self) -> Splits:
        raw = generate(self.num_samples, self.train_split, self.data_seed)
        signal = lambda x: torch.as_tensor(x, dtype=torch.float32).unsqueeze(1)  # noqa: E731
        train = Split(signal(raw["x"]), torch.as_tensor(raw["y"], dtype=torch.long))
        test = Split(signal(raw["x_test"]), torch.as_tensor(raw["y_test"], dtype=torch.long))
        train, val = carve_validation(train, self.val_fraction, self.split_seed)
        spec = DataSpec(name="mnist1d", kind="signal", shape=(1, 40), num_classes=10)
        return Splits(spec, train, val, test)
