"""Language-modelling data: nanoGPT's uint16 token files, the bytes or characters of a text file,
windows gathered per batch from the flat stream, and synthetic inputs of real shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from research.data.loader import EpochPermutation, TensorBatchLoader
from research.data.synthetic import SyntheticDataModule
from research.data.text import CharTextDataModule
from research.data.tokens import TokenFileDataModule, TokenFileError


def write_token_files(folder: Path, train: np.ndarray, val: np.ndarray) -> None:
    """nanoGPT's format: `np.array(ids, dtype=np.uint16).tofile(path)`, no header."""
    folder.mkdir(parents=True, exist_ok=True)
    train.astype(np.uint16).tofile(folder / "train.bin")
    val.astype(np.uint16).tofile(folder / "val.bin")


@pytest.fixture
def gpt2_like(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """Ids across GPT-2's whole range: above 32,767 they do not fit int16 as numbers."""
    rng = np.random.default_rng(0)
    train, val = rng.integers(0, 50257, 1000), rng.integers(0, 50257, 202)
    train[17], val[150] = 50256, 40000
    write_token_files(tmp_path / "owt", train, val)
    return tmp_path / "owt", train, val


def test_token_files_are_read_as_windows_of_the_stream(gpt2_like) -> None:
    folder, train, val = gpt2_like
    splits = TokenFileDataModule(path=str(folder), seq_len=8).splits
    assert splits.spec.task == "language_modeling" and splits.spec.vocab_size == 50257
    assert (len(splits.train), len(splits.val), len(splits.test)) == (124, 12, 12)
    x, y = splits.train.gather(torch.tensor([0, 2, 123]))
    for row, window in enumerate([0, 2, 123]):
        assert x[row].tolist() == train[window * 8 : window * 8 + 8].tolist()
        assert y[row].tolist() == train[window * 8 + 1 : window * 8 + 9].tolist()
    assert splits.train.tokens.element_size() == 2, "two bytes a token on the device"
    test_x, _ = splits.test.gather(torch.arange(12))
    assert test_x.flatten().tolist() == val[101 : 101 + 96].tolist(), "test: val.bin's 2nd half"
    limited = TokenFileDataModule(path=str(folder), seq_len=8, train_tokens=81).splits
    assert len(limited.train) == 10


def test_token_loader_batches_follow_the_epoch_order_on_every_rank(gpt2_like) -> None:
    folder, train, _ = gpt2_like
    windows = TokenFileDataModule(path=str(folder), seq_len=8).splits.train
    for rank in range(2):
        sampler = EpochPermutation(len(windows), True, seed=3, rank=rank, world_size=2)
        loader = TensorBatchLoader(windows, 16, sampler)
        inputs = torch.cat([x for x, _ in loader])
        expected = [train[i * 8 : i * 8 + 8].tolist() for i in sampler.indices().tolist()]
        assert inputs.tolist() == expected and inputs.dtype == torch.int64


def test_padded_vocabulary_and_a_too_small_one(gpt2_like) -> None:
    folder, _, _ = gpt2_like
    padded = TokenFileDataModule(path=str(folder), seq_len=8, vocab_size=50304).splits
    assert padded.spec.vocab_size == padded.spec.num_classes == 50304
    with pytest.raises(TokenFileError, match=r"data\.vocab_size=50000 is too small") as error:
        _ = TokenFileDataModule(path=str(folder), seq_len=8, vocab_size=50000).splits
    assert "token id 50256" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda f: (f / "val.bin").unlink(), "has no val.bin"),
        (lambda f: (f / "train.bin").write_bytes(b"\x01\x00\x02"), "odd number of bytes"),
        (lambda f: (f / "val.bin").write_bytes(np.arange(20, dtype=np.uint16).tobytes()),
         "val.bin's first half (validation) has 10 tokens: data.seq_len=16 needs at least 17"),
    ],
)  # fmt: skip
def test_unusable_token_files_are_one_line(tmp_path: Path, setup, message: str) -> None:
    write_token_files(tmp_path, np.arange(100), np.arange(100))
    setup(tmp_path)
    with pytest.raises(TokenFileError) as error:
        _ = TokenFileDataModule(path=str(tmp_path), seq_len=16).splits
    assert message in str(error.value) and "\n" not in str(error.value)


def test_text_as_bytes_models_any_file_with_256_ids(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_text("naïve café, 5€ — ok. " * 40, encoding="utf-8")
    splits = CharTextDataModule(path=str(path), seq_len=16, unit="byte").splits
    assert splits.spec.vocab_size == 256
    x, y = splits.train.gather(torch.arange(len(splits.train)))
    assert bytes(x.flatten().tolist()) == path.read_bytes()[: x.numel()]
    assert torch.equal(x[:, 1:], y[:, :-1])
    chars = CharTextDataModule(path=str(path), seq_len=16).splits
    assert chars.spec.vocab_size == len(set(path.read_text(encoding="utf-8")))


def test_synthetic_data_has_the_real_shapes() -> None:
    images = SyntheticDataModule(train_size=12, eval_size=4).splits
    assert images.train.inputs.shape == (12, 3, 32, 32) and len(images.test) == 4
    assert images.spec.kind == "image" and images.spec.num_classes == 10
    tokens = SyntheticDataModule(kind="tokens", seq_len=32, train_size=5, eval_size=2).splits
    x, y = tokens.train.gather(torch.arange(5))
    assert x.shape == y.shape == (5, 32) and int(x.max()) < 50304
    assert tokens.spec.task == "language_modeling"
