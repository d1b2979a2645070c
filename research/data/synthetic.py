"""Random inputs of a real dataset's shape, for measuring throughput where the dataset is not
at hand (a fresh GPU node, CI): CIFAR-sized images with the same on-device augmentation, or a
token stream for language modelling. Nothing in them can be learnt beyond chance."""

from __future__ import annotations

from typing import Literal

import torch

from research.data.augment import CropFlip
from research.data.base import InMemoryDataModule, Split, Splits
from research.data.spec import DataSpec
from research.data.streams import TokenWindows

KINDS = ("image", "tokens")


class SyntheticDataModule(InMemoryDataModule):
    """`kind="image"`: `train_size` / `eval_size` images of `shape` (normalised noise) with
    uniform labels over `num_classes`; `kind="tokens"`: streams of `train_size` / `eval_size`
    windows of `seq_len` uniform token ids below `vocab_size`."""

    def __init__(
        self,
        kind: Literal["image", "tokens"] = "image",
        shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        seq_len: int = 1024,
        vocab_size: int = 50304,
        train_size: int = 50000,
        eval_size: int = 10000,
        augment: bool = True,
        data_seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"data.kind={kind!r} is not one of {', '.join(KINDS)}")
        self.kind = kind
        self.shape = tuple(shape)
        self.num_classes = num_classes
        self.seq_len = seq_len
        self.vocab_size = vocab_size
        self.sizes = (train_size, eval_size, eval_size)
        self.crop_flip = CropFlip() if augment and kind == "image" else None
        self.data_seed = data_seed

    def load_splits(self) -> Splits:
        generator = torch.Generator().manual_seed(self.data_seed)
        if self.kind == "image":
            spec = DataSpec("synthetic", "image", self.shape, self.num_classes)
            splits = [
                Split(
                    torch.randn(n, *self.shape, generator=generator),
                    torch.randint(0, self.num_classes, (n,), generator=generator),
                )
                for n in self.sizes
            ]
            return Splits(spec, *splits)
        spec = DataSpec(
            "synthetic",
            "tokens",
            (self.seq_len,),
            num_classes=self.vocab_size,
            vocab_size=self.vocab_size,
            task="language_modeling",
        )
        dtype = torch.int32 if self.vocab_size > 1 << 15 else torch.int16
        streams = []
        for n in self.sizes:
            ids = torch.randint(0, self.vocab_size, (n * self.seq_len + 1,), generator=generator)
            streams.append(TokenWindows(ids.to(dtype), self.seq_len))
        return Splits(spec, *streams)

    def augmentation(self) -> CropFlip | None:
        return self.crop_flip
