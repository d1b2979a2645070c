"""Character-level language modelling on a text file the user supplies."""

from __future__ import annotations

from pathlib import Path

import torch

from research.data.base import InMemoryDataModule, Split, Splits
from research.data.spec import DataSpec


class CharTextDataModule(InMemoryDataModule):
    """Non-overlapping windows of `seq_len` characters; targets are the next characters.

    The file is cut into contiguous train / val / test parts (90 / 5 / 5 by default) so no
    text leaks between splits.
    """

    def __init__(
        self, path: str | None = None, seq_len: int = 128, eval_fraction: float = 0.05, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if path is None:
            raise ValueError("data.path is required for data=text: the text file to model")
        self.path = Path(path)
        self.seq_len = seq_len
        self.eval_fraction = eval_fraction

    def _windows(self, ids: torch.Tensor) -> Split:
        n = (len(ids) - 1) // self.seq_len
        if n < 1:
            raise ValueError(
                f"{self.path} is too short for data.seq_len={self.seq_len}: "
                f"each split needs at least {self.seq_len + 1} characters"
            )
        span = n * self.seq_len
        return Split(ids[:span].view(n, -1), ids[1 : span + 1].view(n, -1))

    def load_splits(self) -> Splits:
        if not self.path.is_file():
            raise FileNotFoundError(f"data.path={self.path} is not a file")
        text = self.path.read_text(encoding="utf-8")
        vocabulary = sorted(set(text))
        index = {ch: i for i, ch in enumerate(vocabulary)}
        ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)
        n_eval = round(len(ids) * self.eval_fraction)
        n_train = len(ids) - 2 * n_eval
        spec = DataSpec(
            name="text",
            kind="tokens",
            shape=(self.seq_len,),
            num_classes=len(vocabulary),
            vocab_size=len(vocabulary),
            task="language_modeling",
        )
        return Splits(
            spec,
            self._windows(ids[:n_train]),
            self._windows(ids[n_train : n_train + n_eval]),
            self._windows(ids[n_train + n_eval :]),
        )
