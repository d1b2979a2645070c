"""Data modules: shapes, splits, reproducible shuffling, DDP sharding, real on-disk formats."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from research.data.augment import CropFlip
from research.data.base import Split
from research.data.digits import DigitsDataModule
from research.data.loader import EpochPermutation, StepChunks, TensorBatchLoader
from research.data.mnist1d import MNIST1DDataModule
from research.data.modular_arithmetic import ModularArithmeticDataModule, modular_table
from research.data.text import CharTextDataModule
from research.data.vision import DatasetNotFoundError, TorchvisionDataModule


def test_mnist1d_is_generated_with_fixed_splits() -> None:
    splits = MNIST1DDataModule(num_samples=1000, val_fraction=0.1).splits
    assert splits.spec.kind == "signal" and splits.spec.shape == (1, 40)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (720, 80, 200)
    assert splits.train.inputs.shape[1:] == (1, 40)
    assert set(splits.train.targets.unique().tolist()) == set(range(10))
    again = MNIST1DDataModule(num_samples=1000, val_fraction=0.1, seed=7).splits
    assert torch.equal(splits.val.inputs, again.val.inputs), "the run seed must not move the split"


def test_digits_splits_are_disjoint_and_cover_the_set() -> None:
    splits = DigitsDataModule().splits
    assert splits.spec.shape == (1, 8, 8)
    assert len(splits.train) + len(splits.val) + len(splits.test) == 1797
    rows = lambda s: {tuple(r.tolist()) for r in s.inputs.flatten(1)}  # noqa: E731
    assert not rows(splits.train) & rows(splits.test)


@pytest.mark.parametrize("operation", ["+", "-", "*", "/"])
def test_modular_table_is_correct(operation: str) -> None:
    p = 7
    a, b, result = modular_table(p, operation)
    for x, y, r in zip(a.tolist(), b.tolist(), result.tolist(), strict=True):
        if operation == "/":
            assert (r * y) % p == x
        else:
            assert r == eval(f"({x} {operation} {y}) % {p}")


def test_modular_arithmetic_tokens_and_train_fraction() -> None:
    splits = ModularArithmeticDataModule(p=11, train_fraction=0.3).splits
    assert splits.spec.vocab_size == 13 and splits.spec.num_classes == 11
    assert len(splits.train) == round(121 * 0.3)
    assert len(splits.train) + len(splits.val) + len(splits.test) == 121
    tokens = splits.train.inputs
    assert (tokens[:, 1] == 11).all() and (tokens[:, 3] == 12).all()
    assert torch.equal((tokens[:, 0] + tokens[:, 2]) % 11, splits.train.targets)


def test_text_windows_predict_the_next_character(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text("abcdefghij" * 200)
    splits = CharTextDataModule(path=str(path), seq_len=16).splits
    assert splits.spec.task == "language_modeling" and splits.spec.vocab_size == 10
    x, y = splits.train.gather(torch.arange(len(splits.train)))
    assert x.shape[1] == 16 and torch.equal(x[:, 1:], y[:, :-1])
    assert "".join("abcdefghij"[i] for i in x[0].tolist()) == "abcdefghijabcdef"


def test_epoch_order_depends_only_on_seed_and_epoch() -> None:
    first, second = EpochPermutation(50, True, seed=3), EpochPermutation(50, True, seed=3)
    first.set_epoch(4)
    second.set_epoch(4)
    assert torch.equal(first.indices(), second.indices())
    second.set_epoch(5)
    assert not torch.equal(first.indices(), second.indices())
    assert sorted(first.indices().tolist()) == list(range(50))


def test_ranks_share_an_epoch_equally_and_completely() -> None:
    shards = [EpochPermutation(10, True, seed=1, rank=r, world_size=3) for r in range(3)]
    parts = [s.indices().tolist() for s in shards]
    assert {len(p) for p in parts} == {4}
    assert {i for part in parts for i in part} == set(range(10))
    unpadded = [
        EpochPermutation(10, False, 0, r, 3, pad=False).indices().tolist() for r in range(3)
    ]
    seen = sorted(i for part in unpadded for i in part)
    assert seen == list(range(10)), "evaluation sees every sample exactly once"


def test_tensor_loader_batches_are_aligned_slices() -> None:
    x = torch.arange(10).float().unsqueeze(1)
    loader = TensorBatchLoader(Split(x, torch.arange(10)), 4, EpochPermutation(10, True, seed=0))
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    for inputs, targets in batches:
        assert torch.equal(inputs.squeeze(1).long(), targets)


def test_step_chunks_hold_the_same_batches_in_order() -> None:
    x = torch.arange(10).float().unsqueeze(1)
    loader = TensorBatchLoader(Split(x, torch.arange(10)), 2, EpochPermutation(10, True, seed=0))
    chunks = StepChunks(loader, steps=2)
    assert len(chunks) == 3 and chunks.sampler is loader.sampler
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    flat = [targets.tolist() for chunk in chunks for _, targets in chunk]
    assert flat == [targets.tolist() for _, targets in loader]


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format MNIST ships in: magic (dtype, ndim), big-endian sizes, raw bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, folder: str, n_train: int = 30, n_test: int = 10) -> None:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
        with gzip.open(raw / f"{prefix}-labels-idx1-ubyte.gz", "wb") as handle:
            handle.write((raw / f"{prefix}-labels-idx1-ubyte").read_bytes())


def write_cifar10(root: Path, per_batch: int = 6) -> None:
    """CIFAR-10's python pickles: data_batch_1..5, test_batch, batches.meta."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            "labels": [i % 10 for i in range(per_batch)],
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, handle)


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]
)
def test_mnist_family_reads_real_idx_files(tmp_path: Path, name: str, folder: str) -> None:
    write_mnist(tmp_path, folder)
    splits = TorchvisionDataModule(name=name, data_dir=str(tmp_path), val_fraction=0.2).splits
    assert splits.spec.shape == (1, 28, 28)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (24, 6, 10)
    assert splits.test.targets.tolist() == [i % 10 for i in range(10)]
    assert abs(float(splits.train.inputs.mean())) < 0.2, "inputs are normalised"


@pytest.mark.usefixtures("unchecked_md5")
def test_cifar10_reads_real_pickle_batches(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    splits = TorchvisionDataModule(name="cifar10", data_dir=str(tmp_path), val_fraction=0.1).splits
    assert splits.spec.shape == (3, 32, 32)
    assert len(splits.train) + len(splits.val) == 30 and len(splits.test) == 6


def write_cifar100(root: Path, n_train: int = 20, n_test: int = 5) -> None:
    """CIFAR-100's python pickles: train, test (fine and coarse labels) and meta."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name, n in (("train", n_train), ("test", n_test)):
        batch = {
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "fine_labels": [(7 * i) % 100 for i in range(n)],
            "coarse_labels": [(7 * i) % 20 for i in range(n)],
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)
    with open(folder / "meta", "wb") as handle:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)]}, handle)


@pytest.fixture
def unchecked_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    """The only stand-in: torchvision checks the official files' MD5 sums, which tiny files
    cannot match. Everything else (the pickle reader, the layout) is torchvision's own."""
    import torchvision

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args: True)


@pytest.mark.usefixtures("unchecked_md5")
def test_cifar100_reads_real_pickles_with_fine_labels(tmp_path: Path) -> None:
    write_cifar100(tmp_path)
    data = TorchvisionDataModule(name="cifar100", data_dir=str(tmp_path), val_fraction=0.25)
    splits = data.splits
    assert splits.spec.shape == (3, 32, 32) and splits.spec.num_classes == 100
    assert (len(splits.train), len(splits.val), len(splits.test)) == (15, 5, 5)
    assert splits.test.targets.tolist() == [0, 7, 14, 21, 28]


def test_batched_crop_flip_is_torchvisions_per_image_crop_and_flip() -> None:
    from torchvision.transforms import functional as TF

    images, fill = torch.randn(40, 3, 32, 32), torch.tensor([-1.5, 0.25, 2.0])
    crop_flip = CropFlip(padding=4, fill=fill)
    draws = crop_flip.draw(40, torch.Generator().manual_seed(0))
    out = crop_flip(images, draws)
    assert set(draws.offsets.flatten().tolist()) == set(range(9)) and 0 < draws.flips.sum() < 40
    for image, offsets, flip, result in zip(images, draws.offsets, draws.flips, out, strict=True):
        top, left = offsets.tolist()
        expected = TF.crop(pad_with(image, fill), top, left, 32, 32)
        assert torch.equal(result, TF.hflip(expected) if flip else expected)


def pad_with(image: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """4 pixels on every side, each channel in its own colour."""
    channels = zip(image, fill.tolist(), strict=True)
    return torch.stack([F.pad(channel, (4, 4, 4, 4), value=value) for channel, value in channels])


def crops_and_flips(image: torch.Tensor, fill: torch.Tensor) -> list[torch.Tensor]:
    """Every image torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip can make."""
    padded = pad_with(image, fill)
    crops = [padded[:, top : top + 32, left : left + 32] for top in range(9) for left in range(9)]
    return crops + [crop.flip(-1) for crop in crops]


@pytest.mark.usefixtures("unchecked_md5")
def test_cifar_training_batches_are_augmented_on_the_device_reproducibly(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    data = TorchvisionDataModule(
        name="cifar10", data_dir=str(tmp_path), val_fraction=0.1, augment=True, batch_size=8
    )
    splits, loader = data.splits, data.train_dataloader().loader
    folder = tmp_path / "cifar-10-batches-py"
    raw = [pickle.loads((folder / f"data_batch_{i}").read_bytes())["data"] for i in range(1, 6)]
    pixels = torch.as_tensor(np.concatenate(raw), dtype=torch.float32).view(-1, 3, 32, 32) / 255
    black = -pixels.mean(dim=(0, 2, 3)) / pixels.std(dim=(0, 2, 3))  # black, normalised
    loader.sampler.set_epoch(3)
    order, batches = loader.sampler.indices(), list(loader)
    augmented = torch.cat([inputs for inputs, _ in batches])
    assert torch.equal(torch.cat([t for _, t in batches]), splits.train.targets[order])
    for source, result in zip(splits.train.inputs[order], augmented, strict=True):
        assert any(torch.allclose(result, c, atol=1e-6) for c in crops_and_flips(source, black))
    assert not torch.equal(augmented, splits.train.inputs[order]), "nothing was augmented"
    again = torch.cat([inputs for inputs, _ in loader])
    assert torch.equal(again, augmented), "an epoch's crops depend on (seed, epoch) alone"
    loader.sampler.set_epoch(4)
    assert not torch.equal(torch.cat([inputs for inputs, _ in loader])[:5], augmented[:5])
    val = torch.cat([inputs for inputs, _ in data.val_dataloader()])
    assert torch.equal(val, splits.val.inputs), "evaluation sees the images as they are"


def test_missing_dataset_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    module = TorchvisionDataModule(name="mnist", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as error:
        _ = module.splits
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message and "data.download=true" in message
    assert "\n" not in message
