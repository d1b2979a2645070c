"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 through torchvision's own readers, from
`paths.data_dir`.

Nothing is downloaded unless `data.download=true`: a missing dataset is one clear error.
The whole dataset is one normalised tensor per split on the training device; CIFAR's standard
augmentation (`augment`: random crop with padding 4, horizontal flip) runs on each training
batch there (research/data/augment.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from research.config.errors import ConfigError
from research.data.augment import CropFlip
from research.data.base import InMemoryDataModule, Split, Splits, carve_validation
from research.data.spec import DataSpec

DATASETS = {  # name: torchvision class, image shape, classes
    "mnist": ("MNIST", (1, 28, 28), 10),
    "fashion_mnist": ("FashionMNIST", (1, 28, 28), 10),
    "cifar10": ("CIFAR10", (3, 32, 32), 10),
    "cifar100": ("CIFAR100", (3, 32, 32), 100),
}


class DatasetNotFoundError(ConfigError, FileNotFoundError):
    """The files are not in `data_dir` and downloading is off."""


class TorchvisionDataModule(InMemoryDataModule):
    """Loads a whole torchvision dataset into one normalised float tensor per split."""

    def __init__(
        self,
        name: str,
        data_dir: str = "data",
        download: bool = False,
        augment: bool = False,
        padding: int = 4,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if name not in DATASETS:
            raise ValueError(f"data.name={name!r} is not one of {', '.join(DATASETS)}")
        self.name = name
        self.data_dir = Path(data_dir)
        self.download = download
        self.crop_flip = CropFlip(padding) if augment else None

    def _read(self, train: bool) -> Split:
        import torchvision

        class_name, _, _ = DATASETS[self.name]
        dataset_class = getattr(torchvision.datasets, class_name)
        # the folders torchvision makes before it downloads: a failed download leaves none
        folders = [self.data_dir / class_name / "raw", self.data_dir / class_name, self.data_dir]
        new_folders = [folder for folder in folders if not folder.exists()]
        try:
            dataset = dataset_class(str(self.data_dir), train=train, download=self.download)
        except (OSError, RuntimeError) as error:  # OSError: urllib's URLError (no network)
            for folder in new_folders:
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            raise self._not_available(class_name, error) from None
        images = torch.as_tensor(np.asarray(dataset.data))
        images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
        return Split(images.float().div_(255.0), torch.as_tensor(dataset.targets).long())

    def _not_available(self, class_name: str, error: Exception) -> Exception:
        """One line for the two ways a user meets a missing dataset; other errors as they are."""
        where = self.data_dir.resolve()
        message = str(error).strip()
        if isinstance(error, RuntimeError) and "not found" in message.lower():
            return DatasetNotFoundError(
                f"{class_name} not found in {where}: run once with data.download=true "
                "(needs network) or set paths.data_dir to a folder that has it"
            )
        if isinstance(error, OSError) or "download" in message.lower():
            return DatasetNotFoundError(
                f"{class_name} could not be downloaded into {where} "
                f"({message.splitlines()[0].rstrip(':')}, no network?): put its files there "
                "in torchvision's layout, or set paths.data_dir to a folder that has them"
            )
        return error

    def load_splits(self) -> Splits:
        train, test = self._read(train=True), self._read(train=False)
        mean = train.inputs.mean(dim=(0, 2, 3), keepdim=True)
        std = train.inputs.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        train.inputs = (train.inputs - mean) / std
        test.inputs = (test.inputs - mean) / std
        if self.crop_flip is not None:  # pads with black, as torchvision does before normalising
            self.crop_flip.fill = (-mean / std).flatten()
        train, val = carve_validation(train, self.val_fraction, self.split_seed)
        _, shape, num_classes = DATASETS[self.name]
        spec = DataSpec(name=self.name, kind="image", shape=shape, num_classes=num_classes)
        return Splits(spec, train, val, test)

    def augmentation(self) -> CropFlip | None:
        _ = self.splits  # the padding colour comes from the training set's statistics
        return self.crop_flip
