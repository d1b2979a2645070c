"""A token stream cut into windows for language modelling, kept as the flat stream itself.

Window i is tokens [i * L, (i + 1) * L) and its targets the same span shifted by one. Storing
inputs and targets as separate int64 windows would take 16 bytes a token; the stream takes 2
(ids below 65,536, stored as int16 bits) or 4, and each batch gathers its windows on the
device. GPT-2's 9B OpenWebText tokens then take 18 GB.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from research.data.loader import Batch

UINT16_MASK = 0xFFFF


def stream_tensor(ids: np.ndarray) -> torch.Tensor:
    """Token ids (any unsigned or non-negative integer array, a memmap included) as the most
    compact tensor torch can gather: uint16 ids as the same bits in int16, else int32."""
    if ids.dtype == np.uint16:
        return torch.from_numpy(ids.view(np.int16))
    if ids.dtype == np.uint8:
        return torch.from_numpy(ids.astype(np.int16))
    return torch.from_numpy(np.asarray(ids, dtype=np.int32))


class TokenWindows:
    """Non-overlapping windows of `seq_len` tokens over `tokens` (the stream of one split)."""

    def __init__(self, tokens: torch.Tensor, seq_len: int) -> None:
        self.tokens = tokens
        self.seq_len = seq_len
        self.offsets = torch.arange(seq_len + 1, device=tokens.device)

    def __len__(self) -> int:
        return (len(self.tokens) - 1) // self.seq_len

    @property
    def device(self) -> torch.device:
        return self.tokens.device

    def to(self, device: torch.device) -> TokenWindows:
        return TokenWindows(self.tokens.to(device), self.seq_len)

    def gather(self, index: torch.Tensor) -> Batch:
        """Windows `index` as (inputs, targets), each (len(index), seq_len) int64."""
        spans = self.tokens[index[:, None] * self.seq_len + self.offsets].long()
        if self.tokens.dtype == torch.int16:
            spans &= UINT16_MASK  # the int16 bits back to the uint16 ids they are
        return spans[:, :-1], spans[:, 1:]

    def batches(self, order: torch.Tensor, batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(order), batch_size):
            yield self.gather(order[start : start + batch_size])
