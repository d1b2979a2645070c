"""conf/optimizer/*.yaml: each composes, instantiates to a factory, and takes overrides."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import research.optim as ro

CONF = Path(__file__).resolve().parents[1] / "conf"
EXPECTED = {
    "sgd": ro.SGD,
    "momentum": ro.Momentum,
    "nesterov": ro.Nesterov,
    "adagrad": ro.Adagrad,
    "rmsprop": ro.RMSprop,
    "adam": ro.Adam,
    "adamw": ro.AdamW,
    "amsgrad": ro.AMSGrad,
    "nadam": ro.NAdam,
    "adam_no_bias_correction": ro.AdamNoBiasCorrection,
    "adam_stateless": ro.AdamStateless,
    "torch_adam": torch.optim.Adam,
    "radam": ro.RAdam,
    "adafactor": ro.Adafactor,
    "lion": ro.Lion,
    "muon": ro.Muon,
    "schedule_free_adamw": ro.ScheduleFreeAdamW,
    "prodigy": ro.Prodigy,
    "lamb": ro.Lamb,
}
SEEDS_FAMILY = {"adam", "adamw", "amsgrad", "nadam", "adam_no_bias_correction", "adam_stateless"}
SEEDS_ADAM_DEFAULTS = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


def _params() -> list[torch.nn.Parameter]:
    return list(torch.nn.Linear(3, 2).parameters())


def test_every_shipped_optimizer_config_is_listed() -> None:
    assert {path.stem for path in (CONF / "optimizer").glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize(("name", "cls"), EXPECTED.items())
def test_config_instantiates_to_a_factory_of_the_class(
    name: str, cls: type, make_cfg: Callable[..., DictConfig]
) -> None:
    cfg = make_cfg(f"optimizer={name}")
    assert cfg.optimizer._partial_ is True
    optimizer = instantiate(cfg.optimizer)(_params())
    assert type(optimizer) is cls
    assert cfg.optimizer.weight_decay == 0.0
    if issubclass(cls, ro.ChainedOptimizer):
        fields = {k: v for k, v in cfg.optimizer.items() if not k.startswith("_") and k != "impl"}
        assert set(fields) == set(cls.default_hyperparameters)
        if cls is ro.Muon:  # two rules: constructor names, each group in its rule's names
            assert optimizer.hyperparameters == fields
        else:
            assert {k: optimizer.param_groups[0][k] for k in fields} == fields
        if name in SEEDS_FAMILY:
            assert {k: fields[k] for k in SEEDS_ADAM_DEFAULTS} == SEEDS_ADAM_DEFAULTS


def test_command_line_overrides_reach_the_param_groups(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("optimizer=adam", "optimizer.beta2=0.99", "optimizer.impl=foreach")
    optimizer = instantiate(cfg.optimizer)(_params())
    assert optimizer.param_groups[0]["beta2"] == 0.99
    assert optimizer.impl == "foreach"


def test_a_bad_override_fails_with_the_field_named(make_cfg: Callable[..., DictConfig]) -> None:
    cfg = make_cfg("optimizer=rmsprop", "optimizer.rho=1.2")
    with pytest.raises(ValueError, match=r"rho=1.2 is out of range: must be in \[0, 1\)"):
        instantiate(cfg.optimizer)(_params())


def test_yaml_defaults_are_the_class_defaults_except_adamw_decay() -> None:
    for name, cls in EXPECTED.items():
        if not issubclass(cls, ro.ChainedOptimizer):
            continue
        fields = OmegaConf.to_container(OmegaConf.load(CONF / "optimizer" / f"{name}.yaml"))
        expected = dict(cls.default_hyperparameters)
        if cls is ro.AdamW:  # torch's default decay in Python; the config starts at 0
            expected["weight_decay"] = 0.0
        assert {k: fields[k] for k in expected} == expected, name


@pytest.mark.parametrize(
    ("overrides", "group", "expected"),
    [
        (["optimizer=lion", "optimizer.beta2=0.98"], 0, {"beta2": 0.98}),
        (
            ["optimizer=radam", "optimizer.decoupled_weight_decay=true"],
            0,
            {"decoupled_weight_decay": True},
        ),
        (
            ["optimizer=adafactor", "optimizer.eps1=1e-30", "optimizer.d=2"],
            0,
            {"eps1": 1e-30, "d": 2},
        ),
        (
            ["optimizer=prodigy", "optimizer.beta3=0.99", "optimizer.growth_rate=1.02"],
            0,
            {"beta3": 0.99, "growth_rate": 1.02},
        ),
        (["optimizer=schedule_free_adamw", "optimizer.warmup_steps=100"], 0, {"warmup_steps": 100}),
        (["optimizer=lamb", "optimizer.weight_decouple=false"], 0, {"weight_decouple": False}),
        (
            ["optimizer=muon", "optimizer.adjust_lr_fn=match_rms_adamw"],
            0,
            {"adjust_lr_fn": "match_rms_adamw"},
        ),
        (
            ["optimizer=muon", "optimizer.adamw_beta2=0.99", "optimizer.adamw_lr=1e-3"],
            1,
            {"beta2": 0.99, "lr": 1e-3},
        ),
    ],
)
def test_new_optimizers_take_command_line_overrides(
    make_cfg: Callable[..., DictConfig], overrides: list[str], group: int, expected: dict
) -> None:
    optimizer = instantiate(make_cfg(*overrides).optimizer)(_params())
    assert {k: optimizer.param_groups[group][k] for k in expected} == expected


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer=adafactor optimizer.d=0.5", r"d=0.5 must be >= 1"),
        ("optimizer=muon optimizer.nesterov=2", r"nesterov=2 must be true or false"),
        ("optimizer=prodigy optimizer.beta3=1.5", r"beta3=1.5 is out of range"),
    ],
)
def test_bad_values_of_new_optimizers_fail_with_the_field_named(
    make_cfg: Callable[..., DictConfig], override: str, message: str
) -> None:
    cfg = make_cfg(*override.split())
    with pytest.raises(ValueError, match=message):
        instantiate(cfg.optimizer)(_params())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimizer=adafactor", "optimizer.d=0.5"], "optimizer.d=0.5 must be >= 1 for Adafactor"),
        (["optimizer=lion", "+optimizer.eps=1e-8"], "optimizer: Lion got unknown hyperparameter"),
        (["optimizer=muon", "optimizer.impl=fused"], "optimizer.impl='fused': torch has no"),
        (["optimizer=prodigy", "optimizer.decouple=3"], "optimizer.decouple=3 must be true or"),
    ],
)
def test_a_run_refuses_bad_optimizer_values_at_start_up(
    make_cfg: Callable[..., DictConfig], overrides: list[str], message: str
) -> None:
    from research.config.errors import ConfigError
    from research.training.pipeline import optimizer_factory

    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        optimizer_factory(make_cfg(*overrides).optimizer)
