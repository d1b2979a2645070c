"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's own readers, from `paths.data_dir`.

Nothing is downloaded unless `data.download=true`: a missing dataset is one clear error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from research.config.errors import ConfigError
from research.data.base import InMemoryDataModule, Split, Splits, carve_validation
from research.data.spec import DataSpec

DATASETS = {
    "mnist": ("MNIST", (1, 28, 28)),
    "fashion_mnist": ("FashionMNIST", (1, 28, 28)),
    "cifar10": ("CIFAR10", (3, 32, 32)),
}


class DatasetNotFoundError(ConfigError, FileNotFoundError):
    """The files are not in `data_dir` and downloading is off."""


class TorchvisionDataModule(InMemoryDataModule):
    """Loads a whole torchvision dataset into one normalised float tensor per split."""

    def __init__(self, name: str, data_dir: str = "data", download: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if name not in DATASETS:
            raise ValueError(f"data.name={name!r} is not one of {', '.join(DATASETS)}")
        self.name = name
        self.data_dir = Path(data_dir)
        self.download = download

    def _read(self, train: bool) -> Split:
        import torchvision

        class_name, _ = DATASETS[self.name]
        dataset_class = getattr(torchvision.datasets, class_name)
        try:
            dataset = dataset_class(str(self.data_dir), train=train, download=self.download)
        except RuntimeError as error:
            if "not found" not in str(error).lower():
                raise
            raise DatasetNotFoundError(
                f"{class_name} not found in {self.data_dir.resolve()}: "
                f"run once with data.download=true (needs network) "
                f"or set paths.data_dir to a folder that has it"
            ) from None
        images = torch.as_tensor(np.asarray(dataset.data))
        images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
        return Split(images.float().div_(255.0), torch.as_tensor(dataset.targets).long())

    def load_splits(self) -> Splits:
        train, test = self._read(train=True), self._read(train=False)
        mean = train.inputs.mean(dim=(0, 2, 3), keepdim=True)
        std = train.inputs.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        train.inputs = (train.inputs - mean) / std
        test.inputs = (test.inputs - mean) / std
        train, val = carve_validation(train, self.val_fraction, self.split_seed)
        _, shape = DATASETS[self.name]
        spec = DataSpec(name=self.name, kind="image", shape=shape, num_classes=10)
        return Splits(spec, train, val, test)
