"""Batches sliced by index from tensors already in memory: no per-sample `__getitem__`,
no collate, no worker processes. For small datasets this is what keeps a training step
close to a bare PyTorch loop; handing Lightning several of them at a time (`StepChunks`)
keeps its per-batch bookkeeping off each step."""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import islice
from typing import Protocol

import torch

from research.data.augment import CropFlip

Batch = tuple[torch.Tensor, torch.Tensor]


class BatchSource(Protocol):
    """A split that cuts batches in a given order: `Split` (aligned tensors, gathered once
    per epoch) or `TokenWindows` (windows of a token stream, gathered per batch)."""

    device: torch.device

    def __len__(self) -> int: ...

    def to(self, device: torch.device) -> BatchSource: ...

    def batches(self, order: torch.Tensor, batch_size: int) -> Iterator[Batch]: ...


class EpochPermutation:
    """Index order for one epoch, shared out across ranks.

    Lightning calls `set_epoch` on a loader's `sampler` before every epoch, so the order
    depends only on (seed, epoch): a resumed run sees the same batches as an uninterrupted one.
    Under DDP every rank gets an equal share (padded by wrapping around, as
    `DistributedSampler` does) so no rank waits for a batch that never comes.
    """

    def __init__(
        self,
        size: int,
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
    ) -> None:
        self.size = size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.pad = pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draws_generator(self) -> torch.Generator:
        """Random draws of this rank's epoch other than its order (augmentation), from
        (seed, epoch, rank) alone, as the order is."""
        return torch.Generator().manual_seed((self.seed * 100_003 + self.epoch) * 1_009 + self.rank)

    def indices(self) -> torch.Tensor:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.size, generator=generator)
        else:
            order = torch.arange(self.size)
        if self.world_size == 1:
            return order
        if self.pad:
            per_rank = math.ceil(self.size / self.world_size)
            order = order.repeat(math.ceil(per_rank * self.world_size / self.size))
            return order[: per_rank * self.world_size][self.rank :: self.world_size]
        return order[self.rank :: self.world_size]

    def __len__(self) -> int:
        if self.world_size == 1:
            return self.size
        if self.pad:
            return math.ceil(self.size / self.world_size)
        return len(range(self.rank, self.size, self.world_size))


class TensorBatchLoader:
    """Iterable of `(inputs, targets)` batches cut from a split in the sampler's order, the
    training images of each batch cropped and flipped on their device when `augment` is set."""

    def __init__(
        self,
        source: BatchSource,
        batch_size: int,
        sampler: EpochPermutation,
        drop_last: bool = False,
        augment: CropFlip | None = None,
    ) -> None:
        self.source = source
        self.batch_size = batch_size
        self.sampler = sampler  # Lightning calls `sampler.set_epoch` before each epoch
        self.batch_sampler = None  # ...and inspects this, as on a torch DataLoader
        self.drop_last = drop_last
        self.augment = augment

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        order = self.sampler.indices()[: len(self) * self.batch_size]
        batches = self.source.batches(order.to(self.source.device), self.batch_size)
        if self.augment is None:
            yield from batches
            return
        draws = self.augment.draw(len(order), self.sampler.draws_generator())
        draws = draws.to(self.source.device)  # one copy an epoch, none per batch
        for start, (inputs, targets) in zip(
            range(0, len(order), self.batch_size), batches, strict=True
        ):
            yield self.augment(inputs, draws.slice(start, start + len(targets))), targets


class StepChunks:
    """A batch loader's batches, `steps` consecutive ones at a time (the last chunk may be
    shorter): the same batches in the same order, one optimizer step each.

    `skip_first` mini-batches are left out of the first epoch iterated: those a run resumed
    from a mid-epoch checkpoint has already trained on (Lightning restarts that epoch's loader
    from its start, and counts the chunks already done)."""

    def __init__(self, loader: TensorBatchLoader, steps: int, skip_first: int = 0) -> None:
        self.loader = loader
        self.steps = steps
        self.skip_first = skip_first
        self.sampler = loader.sampler  # Lightning calls `sampler.set_epoch` through this
        self.batch_sampler = None  # ...and inspects this, as on a torch DataLoader

    def __len__(self) -> int:
        return math.ceil(len(self.loader) / self.steps)

    def __iter__(self) -> Iterator[list[Batch]]:
        batches = islice(self.loader, self.skip_first, None)
        self.skip_first = 0
        while chunk := list(islice(batches, self.steps)):
            yield chunk
