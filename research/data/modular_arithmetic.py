"""`a op b mod p` as token sequences `[a, op, b, =]`, as in grokking (Power et al., 2022)."""

from __future__ import annotations

import torch

from research.config.split_sizes import modular_sizes
from research.data.base import InMemoryDataModule, Split, Splits
from research.data.spec import DataSpec

OPERATIONS = ("+", "-", "*", "/")


def modular_table(p: int, operation: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every (a, b) pair and its result; division only where b is invertible (b != 0)."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.flatten(), b.flatten()
    if operation == "+":
        result = (a + b) % p
    elif operation == "-":
        result = (a - b) % p
    elif operation == "*":
        result = (a * b) % p
    elif operation == "/":
        keep = b != 0
        a, b = a[keep], b[keep]
        inverse = torch.tensor([pow(int(v), p - 2, p) for v in b])
        result = (a * inverse) % p
    else:
        raise ValueError(f"data.operation={operation!r} is not one of {', '.join(OPERATIONS)}")
    return a, b, result


class ModularArithmeticDataModule(InMemoryDataModule):
    """Train on `train_fraction` of all pairs; the held-out pairs are split evenly into val/test.

    Tokens 0..p-1 are numbers, p is the operation and p+1 is `=`. `p` should be prime for
    division to be defined.
    """

    def __init__(
        self, p: int = 97, operation: str = "+", train_fraction: float = 0.5, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 < train_fraction < 1.0:
            raise ValueError(f"data.train_fraction={train_fraction} must be in (0, 1)")
        self.p = p
        self.operation = operation
        self.train_fraction = train_fraction

    def load_splits(self) -> Splits:
        a, b, result = modular_table(self.p, self.operation)
        op_token, eq_token = self.p, self.p + 1
        tokens = torch.stack(
            [a, torch.full_like(a, op_token), b, torch.full_like(a, eq_token)], dim=1
        )
        order = torch.randperm(len(a), generator=torch.Generator().manual_seed(self.split_seed))
        sizes = modular_sizes(len(a), self.train_fraction)
        n_train, n_val = sizes["train"], sizes["val"]
        pick = lambda idx: Split(tokens[idx], result[idx])  # noqa: E731
        spec = DataSpec(
            name="modular_arithmetic",
            kind="tokens",
            shape=(4,),
            num_classes=self.p,
            vocab_size=self.p + 2,
        )
        return Splits(
            spec,
            pick(order[:n_train]),
            pick(order[n_train : n_train + n_val]),
            pick(order[n_train + n_val :]),
        )
