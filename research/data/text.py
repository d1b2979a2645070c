"""Language modelling on the characters or the bytes of a text file the user supplies."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from research.data.base import InMemoryDataModule, Splits
from research.data.spec import DataSpec
from research.data.streams import TokenWindows, stream_tensor

UNITS = ("char", "byte")


def char_ids(path: Path) -> tuple[np.ndarray, int]:
    """Each character's index in the file's sorted set of characters, and the set's size."""
    codes = np.frombuffer(path.read_text(encoding="utf-8").encode("utf-32-le"), dtype=np.uint32)
    vocabulary, ids = np.unique(codes, return_inverse=True)
    return ids.astype(np.uint16 if len(vocabulary) <= 1 << 16 else np.int32), len(vocabulary)


class CharTextDataModule(InMemoryDataModule):
    """Non-overlapping windows of `seq_len` characters (or bytes: `unit="byte"`, a vocabulary
    of 256 for any file, no decoding); targets are the next ones.

    The file is cut into contiguous train / val / test parts (90 / 5 / 5 by default) so no
    text leaks between splits.
    """

    def __init__(
        self,
        path: str | None = None,
        seq_len: int = 128,
        eval_fraction: float = 0.05,
        unit: Literal["char", "byte"] = "char",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if path is None:
            raise ValueError("data.path is required for data=text: the text file to model")
        if unit not in UNITS:
            raise ValueError(f"data.unit={unit!r} is not one of {', '.join(UNITS)}")
        self.path = Path(path)
        self.seq_len = seq_len
        self.eval_fraction = eval_fraction
        self.unit = unit

    def _windows(self, ids: np.ndarray) -> TokenWindows:
        if len(ids) < self.seq_len + 1:
            raise ValueError(
                f"{self.path} is too short for data.seq_len={self.seq_len}: "
                f"each split needs at least {self.seq_len + 1} {self.unit}s"
            )
        return TokenWindows(stream_tensor(ids), self.seq_len)

    def load_splits(self) -> Splits:
        if not self.path.is_file():
            raise FileNotFoundError(f"data.path={self.path} is not a file")
        if self.unit == "byte":
            ids, vocab_size = np.fromfile(self.path, dtype=np.uint8), 256
        else:
            ids, vocab_size = char_ids(self.path)
        n_eval = round(len(ids) * self.eval_fraction)
        n_train = len(ids) - 2 * n_eval
        spec = DataSpec(
            name="text",
            kind="tokens",
            shape=(self.seq_len,),
            num_classes=vocab_size,
            vocab_size=vocab_size,
            task="language_modeling",
        )
        return Splits(
            spec,
            self._windows(ids[:n_train]),
            self._windows(ids[n_train : n_train + n_eval]),
            self._windows(ids[n_train + n_eval :]),
        )
