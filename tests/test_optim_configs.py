"""conf/optimizer/*.yaml: each composes, instantiates to a factory, and takes overrides."""

from __future__ import annotations

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
}
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
        assert {k: optimizer.param_groups[0][k] for k in fields} == fields
        if "beta1" in fields:
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
