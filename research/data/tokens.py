"""Language modelling on pre-tokenised files as nanoGPT writes them: `train.bin` and `val.bin`
in one folder, each a flat array of uint16 token ids with no header (GPT-2's tokenizer,
`data/openwebtext/prepare.py`; characters, `data/shakespeare_char/prepare.py`).

The files are memory-mapped, not read: the training device gets the stream as int16 bits (2
bytes a token) and each batch gathers its windows there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from research.config.errors import ConfigError
from research.data.base import InMemoryDataModule, Splits
from research.data.spec import DataSpec
from research.data.streams import TokenWindows, stream_tensor

FILES = ("train.bin", "val.bin")


class TokenFileError(ConfigError, FileNotFoundError):
    """The token files are missing, too short or hold ids the vocabulary does not."""


class TokenFileDataModule(InMemoryDataModule):
    """Non-overlapping windows of `seq_len` tokens of `train.bin` for training; `val.bin` is
    cut into two contiguous halves, validation then test (nanoGPT has no test file).

    `vocab_size`: null takes the largest id in the files plus one (one pass over them); a
    larger value pads the vocabulary (nanoGPT's 50,304 for GPT-2's 50,257: faster matmuls).
    `train_tokens`: null trains on all of `train.bin`, a number on its first that many.
    """

    def __init__(
        self,
        path: str | None = None,
        seq_len: int = 1024,
        vocab_size: int | None = None,
        train_tokens: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if path is None:
            raise ValueError(
                "data.path is required for data=tokens: the folder with train.bin and val.bin"
            )
        if seq_len < 1:
            raise ValueError(f"data.seq_len={seq_len} must be >= 1")
        self.path = Path(path)
        self.seq_len = seq_len
        self.vocab_size = vocab_size
        self.train_tokens = train_tokens

    def _read(self, name: str) -> np.ndarray:
        file = self.path / name
        if not file.is_file():
            raise TokenFileError(
                f"data.path={self.path} has no {name}: data=tokens reads nanoGPT's train.bin "
                "and val.bin (flat uint16 token ids)"
            )
        if file.stat().st_size % 2:
            raise TokenFileError(f"{file} has an odd number of bytes: not uint16 token ids")
        return np.memmap(file, dtype=np.uint16, mode="c")  # copy-on-write: never written

    def _check_length(self, ids: np.ndarray, what: str) -> None:
        if len(ids) < self.seq_len + 1:
            raise TokenFileError(
                f"{what} has {len(ids)} tokens: data.seq_len={self.seq_len} needs at least "
                f"{self.seq_len + 1}"
            )

    def _vocab_size(self, streams: list[np.ndarray]) -> int:
        largest = max(int(ids.max()) for ids in streams)
        if self.vocab_size is None:
            return largest + 1
        if largest >= self.vocab_size:
            raise TokenFileError(
                f"data.vocab_size={self.vocab_size} is too small: {self.path} holds token id "
                f"{largest}; set it to at least {largest + 1}, or null to read it from the files"
            )
        return self.vocab_size

    def load_splits(self) -> Splits:
        train, val = (self._read(name) for name in FILES)
        if self.train_tokens is not None:
            train = train[: self.train_tokens]
        half = len(val) // 2
        parts = [train, val[:half], val[half:]]
        val_file = self.path / "val.bin"
        names = (
            str(self.path / "train.bin"),
            f"{val_file}'s first half (validation)",
            f"{val_file}'s second half (test)",
        )
        for ids, name in zip(parts, names, strict=True):
            self._check_length(ids, name)
        vocab_size = self._vocab_size(parts)
        spec = DataSpec(
            name="tokens",
            kind="tokens",
            shape=(self.seq_len,),
            num_classes=vocab_size,
            vocab_size=vocab_size,
            task="language_modeling",
        )
        windows = [TokenWindows(stream_tensor(ids), self.seq_len) for ids in parts]
        return Splits(spec, *windows)
