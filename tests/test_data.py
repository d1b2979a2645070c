"""Data modules: shapes, splits, reproducible shuffling, DDP sharding, real on-disk formats."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

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
    x, y = splits.train.inputs, splits.train.targets
    assert x.shape[1] == 16 and torch.equal(x[:, 1:], y[:, :-1])


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
    loader = TensorBatchLoader(x, torch.arange(10), 4, EpochPermutation(10, True, seed=0))
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    for inputs, targets in batches:
        assert torch.equal(inputs.squeeze(1).long(), targets)


def test_step_chunks_hold_the_same_batches_in_order() -> None:
    x = torch.arange(10).float().unsqueeze(1)
    loader = TensorBatchLoader(x, torch.arange(10), 2, EpochPermutation(10, True, seed=0))
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


def test_cifar10_reads_real_pickle_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    write_cifar10(tmp_path)
    # The only stand-in: torchvision checks the official files' MD5 sums, which tiny files
    # cannot match. Everything else (the pickle reader, the layout) is torchvision's own.
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args: True)
    splits = TorchvisionDataModule(name="cifar10", data_dir=str(tmp_path), val_fraction=0.1).splits
    assert splits.spec.shape == (3, 32, 32)
    assert len(splits.train) + len(splits.val) == 30 and len(splits.test) == 6


def test_missing_dataset_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    module = TorchvisionDataModule(name="mnist", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as error:
        _ = module.splits
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message and "data.download=true" in message
    assert "\n" not in message
