"""Which implementation `impl=auto` runs for each shipped optimizer config, read from the
operators torch's profiler saw in one step: a row that runs torch's fused kernel compares
that kernel with itself, and the README's speed tables say so from this."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from research.optim.base import ChainedOptimizer

CONFIGS = Path(__file__).parent.parent / "conf" / "optimizer"

# config -> (what code_paths() reports, the torch fused kernel the step must call, or None)
AUTO = {
    "adam": (["fused"], "aten::_fused_adam_"),
    "amsgrad": (["fused"], "aten::_fused_adam_"),
    "adamw": (["fused"], "aten::_fused_adamw_"),
    "adagrad": (["fused"], "aten::_fused_adagrad_"),
    "sgd": (["fused"], "aten::_fused_sgd_"),
    "momentum": (["fused"], "aten::_fused_sgd_"),
    "nesterov": (["fused"], "aten::_fused_sgd_"),
    "muon": (["adamw:fused", "muon:reference"], "aten::_fused_adamw_"),
    "adam_no_bias_correction": (["chunked", "foreach"], None),
    "adam_stateless": (["chunked", "foreach"], None),
    "nadam": (["chunked", "foreach"], None),
    "rmsprop": (["chunked", "foreach"], None),
    "radam": (["chunked", "foreach"], None),
    "adafactor": (["chunked", "foreach"], None),
    "lion": (["chunked", "foreach"], None),
    "lamb": (["chunked", "foreach"], None),
    "prodigy": (["chunked", "foreach"], None),
    "schedule_free_adamw": (["chunked", "foreach"], None),
}


def _operators_of_one_step(name: str, impl: str) -> tuple[list[str], set[str]]:
    """code_paths() and the fused/foreach operators of one step on an MLP whose tensors
    are small (biases) and medium (weights)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    config = OmegaConf.load(CONFIGS / f"{name}.yaml")
    optimizer = instantiate(config, impl=impl)(net.parameters())
    assert isinstance(optimizer, ChainedOptimizer)
    net(torch.randn(8, 64)).square().mean().backward()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        optimizer.step()
    operators = {
        event.name
        for event in profile.events()
        if event.name.startswith(("aten::_fused_", "aten::_foreach_"))
    }
    return optimizer.code_paths(), operators


def test_every_shipped_project_optimizer_is_in_the_table() -> None:
    shipped = {path.stem for path in CONFIGS.glob("*.yaml")}
    assert shipped - {"torch_adam"} == set(AUTO)


@pytest.mark.parametrize("name", sorted(AUTO))
def test_auto_runs_the_implementation_it_reports(name: str) -> None:
    expected_paths, kernel = AUTO[name]
    paths, operators = _operators_of_one_step(name, "auto")
    assert paths == expected_paths
    fused = {op for op in operators if op.startswith("aten::_fused_")}
    if kernel is None:  # the project's own multi-tensor code, no torch kernel
        assert not fused and any(op.startswith("aten::_foreach_") for op in operators)
    else:
        assert fused == {kernel}


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_foreach_runs_the_projects_own_code_where_a_torch_kernel_exists(name: str) -> None:
    paths, operators = _operators_of_one_step(name, "foreach")
    assert paths == ["foreach"]
    assert not any(op.startswith("aten::_fused_") for op in operators)
