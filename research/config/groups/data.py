"""Data values: the fields every data module shares, each module's own, and the split sizes
they give together (a run with an empty training split has nothing to train)."""

from __future__ import annotations

from omegaconf import DictConfig

from research.config.errors import ConfigError
from research.config.groups.run import COUNT, SEED
from research.config.rules import (
    Combined,
    ExistingFile,
    Flag,
    Folder,
    Number,
    Numbers,
    OneOf,
    Rule,
    Text,
    check_node,
    target_of,
    values,
)
from research.config.split_sizes import digits_sizes, mnist1d_sizes, modular_sizes

FRACTION = Number(low=0, high=1, low_open=True, high_open=True)

SHARED: dict[str, Rule] = {
    "batch_size": COUNT,
    "eval_batch_size": COUNT,
    "val_fraction": FRACTION,
    "split_seed": SEED,
    "seed": SEED,
    "shuffle": Flag(),
}
OPERATIONS = ("+", "-", "*", "/")
DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100")

RULES: dict[str, dict[str, Rule]] = {
    "research.data.mnist1d.MNIST1DDataModule": {
        "num_samples": Number(low=10, integer=True, why="it makes num_samples // 10 per class"),
        "train_split": FRACTION,
        "data_seed": SEED,
    },
    "research.data.digits.DigitsDataModule": {"test_fraction": FRACTION},
    "research.data.gaussian_noise.GaussianNoiseDataModule": {
        "dim": COUNT,
        "train_size": COUNT,
        "noise_level": Number(low=0),
        "data_seed": SEED,
    },
    "research.data.modular_arithmetic.ModularArithmeticDataModule": {
        "p": Number(low=2, high=46340, integer=True, why="all p * p pairs are held in memory"),
        "operation": OneOf(OPERATIONS),
        "train_fraction": FRACTION,
    },
    "research.data.online_linear.OnlineLinearDataModule": {
        "steps_per_epoch": COUNT,
        "period": Number(low=2, integer=True),
        "large": Number(),
        "small": Number(),
        "stochastic": Flag(),
        "large_probability": Number(low=0, high=0.5, low_open=True),
        "data_seed": SEED,
    },
    "research.data.text.CharTextDataModule": {
        "path": ExistingFile("text file"),
        "seq_len": COUNT,
        "unit": OneOf(("char", "byte")),
        "eval_fraction": Number(low=0, high=0.5, low_open=True, high_open=True),
    },
    "research.data.vision.TorchvisionDataModule": {
        "name": OneOf(DATASETS),
        "data_dir": Text(),
        "download": Flag(),
        "augment": Flag(),
        "padding": Number(low=0, integer=True),
    },
    "research.data.tokens.TokenFileDataModule": {
        "path": Folder(),
        "seq_len": COUNT,
        "vocab_size": Number(low=2, integer=True, null="the largest id in the files + 1"),
        "train_tokens": Number(low=2, integer=True, null="all of train.bin"),
    },
    "research.data.synthetic.SyntheticDataModule": {
        "kind": OneOf(("image", "tokens")),
        "shape": Numbers(COUNT),
        "num_classes": Number(low=2, integer=True),
        "seq_len": COUNT,
        "vocab_size": Number(low=2, integer=True),
        "train_size": COUNT,
        "eval_size": COUNT,
        "augment": Flag(),
        "data_seed": SEED,
    },
}


def _every_split_filled(sizes: dict[str, int], what: str) -> None:
    empty = [split for split, n in sizes.items() if n < 1]
    if empty:
        counts = ", ".join(f"{max(n, 0)} {split}" for split, n in sizes.items())
        raise ConfigError(
            f"{what} is invalid: it leaves {counts} samples, and every split needs at least one"
        )


def mnist1d_splits(prefix: str, node: DictConfig) -> None:
    num_samples, train_split, val_fraction = values(
        node, ["num_samples", "train_split", "val_fraction"]
    )
    sizes = mnist1d_sizes(num_samples, train_split, 0.1 if val_fraction is None else val_fraction)
    _every_split_filled(
        sizes,
        f"{prefix}.num_samples={num_samples} with train_split={train_split} and "
        f"val_fraction={val_fraction}",
    )


def digits_splits(prefix: str, node: DictConfig) -> None:
    test_fraction, val_fraction = values(node, ["test_fraction", "val_fraction"])
    sizes = digits_sizes(0.2 if test_fraction is None else test_fraction, val_fraction or 0.1)
    _every_split_filled(
        sizes, f"{prefix}.test_fraction={test_fraction} with val_fraction={val_fraction}"
    )


def modular_table(prefix: str, node: DictConfig) -> None:
    p, operation, train_fraction = values(node, ["p", "operation", "train_fraction"])
    p, operation = p or 97, operation or "+"
    if operation == "/" and any(p % d == 0 for d in range(2, int(p**0.5) + 1)):
        raise ConfigError(
            f"{prefix}.p={p} is invalid with operation=/: must be a prime (division mod p needs "
            "every b != 0 to have an inverse)"
        )
    pairs = p * (p - 1) if operation == "/" else p * p
    _every_split_filled(
        modular_sizes(pairs, 0.5 if train_fraction is None else train_fraction),
        f"{prefix}.p={p} with train_fraction={train_fraction}",
    )


def online_period(prefix: str, node: DictConfig) -> None:
    steps, period, probability = values(node, ["steps_per_epoch", "period", "large_probability"])
    steps, period = steps or 10100, period or 101
    if steps % period:
        raise ConfigError(
            f"{prefix}.steps_per_epoch={steps} is invalid: must be a multiple of "
            f"period={period}, so every epoch continues the sequence"
        )
    if probability is not None and not (1 / probability).is_integer():
        raise ConfigError(
            f"{prefix}.large_probability={probability} is invalid: must be 1/n for an "
            "integer n >= 2"
        )


COMBINED: dict[str, tuple[Combined, ...]] = {
    "research.data.mnist1d.MNIST1DDataModule": (mnist1d_splits,),
    "research.data.digits.DigitsDataModule": (digits_splits,),
    "research.data.modular_arithmetic.ModularArithmeticDataModule": (modular_table,),
    "research.data.online_linear.OnlineLinearDataModule": (online_period,),
}


def check(cfg: DictConfig) -> None:
    target = target_of(cfg.data)
    rules = {**SHARED, **RULES.get(target, {})}
    check_node("data", cfg.data, rules, COMBINED.get(target, ()))
