"""How many samples each split gets, as plain arithmetic (no torch): the data modules split
by these numbers, and the start-up checks use the same ones to refuse an empty split."""

from __future__ import annotations

MNIST1D_CLASSES = 10
DIGITS_SAMPLES = 1797


def held_out(n: int, fraction: float) -> int:
    """The samples `carve_validation` holds out of `n`: at least one."""
    return max(1, round(n * fraction))


def carved(n: int, fraction: float) -> tuple[int, int]:
    """(kept, held out) of `n` samples."""
    held = held_out(n, fraction)
    return n - held, held


def mnist1d_sizes(num_samples: int, train_split: float, val_fraction: float) -> dict[str, int]:
    """The mnist1d package makes num_samples // 10 samples per class, then cuts off the first
    `train_split` of them for training; validation is carved out of training."""
    total = num_samples // MNIST1D_CLASSES * MNIST1D_CLASSES
    train = int(total * train_split)
    kept, val = carved(train, val_fraction)
    return {"train": kept, "val": val, "test": total - train}


def digits_sizes(test_fraction: float, val_fraction: float) -> dict[str, int]:
    rest, test = carved(DIGITS_SAMPLES, test_fraction)
    train, val = carved(rest, val_fraction)
    return {"train": train, "val": val, "test": test}


def modular_sizes(pairs: int, train_fraction: float) -> dict[str, int]:
    """Training takes `train_fraction` of the pairs; the rest is split evenly into val/test."""
    train = round(pairs * train_fraction)
    val = (pairs - train) // 2
    return {"train": train, "val": val, "test": pairs - train - val}
