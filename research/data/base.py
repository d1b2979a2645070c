"""The shared shape of every data source: tensors in memory, three splits, index-sliced batches."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
import torch

from research.config.split_sizes import held_out
from research.data.augment import CropFlip
from research.data.loader import Batch, BatchSource, EpochPermutation, StepChunks, TensorBatchLoader
from research.data.spec import DataSpec


@dataclass
class Split:
    inputs: torch.Tensor
    targets: torch.Tensor

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def device(self) -> torch.device:
        return self.inputs.device

    def subset(self, index: torch.Tensor) -> Split:
        return Split(self.inputs[index], self.targets[index])

    def to(self, device: torch.device) -> Split:
        return Split(self.inputs.to(device), self.targets.to(device))

    def batches(self, order: torch.Tensor, batch_size: int) -> Iterator[Batch]:
        # One gather per epoch, then contiguous views: far fewer kernel launches than
        # gathering every batch separately.
        inputs, targets = self.inputs[order], self.targets[order]
        for start in range(0, len(order), batch_size):
            yield inputs[start : start + batch_size], targets[start : start + batch_size]


@dataclass
class Splits:
    spec: DataSpec
    train: BatchSource
    val: BatchSource
    test: BatchSource


def carve_validation(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out a fixed, seeded `fraction` of `train`: the split never depends on the run seed."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"val_fraction={fraction} must be in (0, 1)")
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    n_val = held_out(len(train), fraction)
    return train.subset(order[n_val:]), train.subset(order[:n_val])


class InMemoryDataModule(pl.LightningDataModule):
    """A LightningDataModule whose splits fit in memory and live on the training device.

    Subclasses implement `load_splits`; everything else (device placement, DDP sharding,
    reproducible shuffling) is shared.
    """

    def __init__(
        self,
        batch_size: int = 64,
        eval_batch_size: int = 1024,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        seed: int = 0,
        shuffle: bool = True,
        steps_per_batch: int = 1,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"data.batch_size={batch_size} must be >= 1")
        if steps_per_batch < 1:
            raise ValueError(f"steps_per_batch={steps_per_batch} must be >= 1")
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.seed = seed
        self.shuffle = shuffle  # False keeps the stored order: an online problem's sequence
        self.steps_per_batch = steps_per_batch
        # set by a run resumed from a mid-epoch checkpoint: the mini-batches of its epoch done
        self.resume_within_epoch = 0
        self._splits: Splits | None = None

    @abstractmethod
    def load_splits(self) -> Splits:
        """Read or generate the data; called once per process."""

    @property
    def splits(self) -> Splits:
        if self._splits is None:
            self._splits = self.load_splits()
        return self._splits

    @property
    def spec(self) -> DataSpec:
        return self.splits.spec

    def setup(self, stage: str | None = None) -> None:
        device = self.trainer.strategy.root_device if self.trainer is not None else None
        if device is not None and self.splits.train.device != device:
            s = self.splits
            self._splits = Splits(s.spec, s.train.to(device), s.val.to(device), s.test.to(device))

    def augmentation(self) -> CropFlip | None:
        """What is done to every training batch on the device (image modules: crop, flip)."""
        return None

    def _loader(self, split: BatchSource, batch_size: int, train: bool) -> TensorBatchLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        sampler = EpochPermutation(
            len(split),
            shuffle=train and self.shuffle,
            seed=self.seed,
            rank=rank,
            world_size=world,
            pad=train,
        )
        augment = self.augmentation() if train else None
        return TensorBatchLoader(split, batch_size, sampler, augment=augment)

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """The splits already live on the training device: nothing to move (Lightning would
        walk every tensor of a chunk of mini-batches to find that out, twice an epoch)."""
        return batch

    def train_dataloader(self) -> StepChunks:
        loader = self._loader(self.splits.train, self.batch_size, train=True)
        return StepChunks(loader, self._chunk_steps(), skip_first=self.resume_within_epoch)

    def _chunk_steps(self) -> int:
        """`steps_per_batch`, or 1 where Lightning would count the chunks themselves: under
        DDP (one forward of the wrapped model per batch) and with a batch limit or interval."""
        trainer = self.trainer
        if trainer is None:
            return self.steps_per_batch
        per_epoch = (trainer.limit_train_batches, trainer.val_check_interval)
        if trainer.world_size > 1 or any(not (type(v) is float and v == 1.0) for v in per_epoch):
            return 1
        return self.steps_per_batch

    def val_dataloader(self) -> TensorBatchLoader:
        return self._loader(self.splits.val, self.eval_batch_size, train=False)

    def test_dataloader(self) -> TensorBatchLoader:
        return self._loader(self.splits.test, self.eval_batch_size, train=False)
