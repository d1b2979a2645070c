"""Model values: sizes that build a network (no zero-width layer), and the parameters of the
problems that are not networks (a bounded interval, a Hessian's spectrum)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from research.config.errors import ConfigError
from research.config.groups.run import COUNT, SEED
from research.config.rules import (
    Combined,
    Flag,
    Number,
    Numbers,
    OneOf,
    Rule,
    check_node,
    invalid,
    is_number,
    target_of,
    values,
)

SHARED: dict[str, Rule] = {"compile": Flag()}

RULES: dict[str, dict[str, Rule]] = {
    "research.models.cnn.CNN": {
        "channels": Numbers(COUNT),
        "kernel_size": COUNT,
        "stride": COUNT,
        "channels_last": Flag(),
    },
    "research.models.resnet.ResNet": {
        "widths": Numbers(COUNT),
        "blocks": Numbers(COUNT),
        "channels_last": Flag(),
    },
    "research.models.airbench.AirbenchNet": {
        "widths": Numbers(COUNT),
        "patch_width": COUNT,
        "bn_momentum": Number(low=0, high=1),
        "scale": Number(low=0, low_open=True),
        "channels_last": Flag(),
    },
    "research.models.gpt.GPT": {
        "d_model": COUNT,
        "num_heads": COUNT,
        "num_layers": COUNT,
        "ff_mult": COUNT,
        "dropout": Number(low=0, high=1, high_open=True),
        "bias": Flag(),
    },
    "research.models.mlp.MLP": {"width": COUNT, "depth": Number(low=0, integer=True)},
    "research.models.rnn.RNN": {
        "cell": OneOf(("lstm", "gru")),
        "hidden_size": COUNT,
        "num_layers": COUNT,
        "embed_size": COUNT,
    },
    "research.models.transformer.Transformer": {
        "d_model": COUNT,
        "num_heads": COUNT,
        "num_layers": COUNT,
        "ff_mult": COUNT,
        "dropout": Number(low=0, high=1, high_open=True),
    },
    "research.problems.bounded_linear.BoundedLinear": {
        "low": Number(),
        "high": Number(),
        "init": Number(),
    },
    "research.problems.quadratic.Quadratic": {"hessian_seed": SEED, "init": Number()},
}


def heads_divide_width(prefix: str, node: DictConfig) -> None:
    d_model, num_heads = values(node, ["d_model", "num_heads"])
    if d_model is not None and num_heads is not None and d_model % num_heads:
        raise ConfigError(
            f"{prefix}.num_heads={num_heads} is invalid: must divide d_model={d_model} "
            "(each head gets d_model / num_heads features)"
        )


def interval_holds_init(prefix: str, node: DictConfig) -> None:
    low, high, init = values(node, ["low", "high", "init"])
    low, high, init = -1.0 if low is None else low, 1.0 if high is None else high, init or 0.0
    if not low < high:
        raise ConfigError(f"{prefix}.low={low} is invalid: must be below high={high}")
    if not low <= init <= high:
        raise ConfigError(f"{prefix}.init={init} is invalid: must lie in [low, high]={[low, high]}")


def _band_ok(band: Any) -> bool:
    if not isinstance(band, list) or len(band) != 3 or not all(is_number(v) for v in band):
        return False
    count, low, high = band
    return isinstance(count, int) and count >= 1 and 0 <= low <= high < float("inf")


def eigenvalue_bands(prefix: str, node: DictConfig) -> None:
    """A Hessian's eigenvalues: a negative one makes the quadratic unbounded below."""
    if "eigenvalue_bands" not in node:
        return
    (bands,) = values(node, ["eigenvalue_bands"])
    if not isinstance(bands, list) or not bands or not all(_band_ok(b) for b in bands):
        raise invalid(
            f"{prefix}.eigenvalue_bands",
            bands,
            "must be a list of [count, low, high] with an integer count >= 1 and "
            "0 <= low <= high (finite)",
        )


COMBINED: dict[str, tuple[Combined, ...]] = {
    "research.models.transformer.Transformer": (heads_divide_width,),
    "research.models.gpt.GPT": (heads_divide_width,),
    "research.problems.bounded_linear.BoundedLinear": (interval_holds_init,),
    "research.problems.quadratic.Quadratic": (eigenvalue_bands,),
}


def check(cfg: DictConfig) -> None:
    target = target_of(cfg.model)
    rules = {**SHARED, **RULES.get(target, {})}
    check_node("model", cfg.model, rules, COMBINED.get(target, ()))
