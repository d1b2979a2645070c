"""The README's worked example of adding an optimizer (AdaBelief) works as documented."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from research.optim import ChainedOptimizer
from research.optim.transforms import (
    BiasCorrection,
    DecoupledWeightDecay,
    DescentStep,
    FirstMomentEMA,
    ScaleByRootSecondMoment,
    StepContext,
    Transform,
)
from research.optim.validation import Bound

# ---- as in README.md, "Adding an optimizer" (research/optim/adabelief.py) ----------------


@dataclass(frozen=True)
class BeliefSecondMoment(Transform):
    """s <- beta2 * s + (1 - beta2) * (g - m)^2 + eps: how far g strays from its EMA m."""

    beta: str = "beta2"
    eps: str = "eps"

    def bounds(self) -> tuple[Bound, ...]:
        return (Bound(self.beta, high=1.0), Bound(self.eps, low_inclusive=False))

    def buffers(self, zero: Mapping[str, bool]) -> tuple[str, ...]:
        return ("exp_avg_var",)

    def apply(self, ctx: StepContext) -> None:
        surprise = ctx.ops.add(ctx.grad, ctx.state["exp_avg"], alpha=-1.0)
        exp_avg_var = ctx.state["exp_avg_var"]
        ctx.ops.mul_(exp_avg_var, ctx.hp[self.beta])
        ctx.ops.addcmul_(exp_avg_var, surprise, surprise, value=1 - ctx.hp[self.beta])
        ctx.ops.add_scalar_(exp_avg_var, ctx.hp[self.eps])
        ctx.second_moment = exp_avg_var


class AdaBelief(ChainedOptimizer):
    """AdaBelief (Zhuang et al. 2020): Adam dividing by the spread of g around m, not by |g|."""

    chain = (
        DecoupledWeightDecay(),
        FirstMomentEMA(),
        BeliefSecondMoment(),
        BiasCorrection(),
        ScaleByRootSecondMoment(),
        DescentStep(),
    )
    default_hyperparameters = {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-16,
        "weight_decay": 0.0,
    }


# ---- and conf/optimizer/adabelief.yaml ---------------------------------------------------

YAML = """
_target_: tests.test_optim_extension.AdaBelief
_partial_: true
lr: 1.0e-3
beta1: 0.9
beta2: 0.999
eps: 1.0e-16
weight_decay: 0.0
impl: auto
"""


def adabelief_by_hand(grads: torch.Tensor, lr: float, b1: float, b2: float, eps: float, wd: float):
    """The paper's Algorithm 2, written out, in float64."""
    theta = torch.ones(grads.shape[1], dtype=torch.float64)
    m, s = torch.zeros_like(theta), torch.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        theta = theta * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * (g - m) ** 2 + eps
        m_hat, s_hat = m / (1 - b1**t), s / (1 - b2**t)
        theta = theta - lr * m_hat / (s_hat.sqrt() + eps)
    return theta


@pytest.mark.parametrize("impl", ["reference", "foreach", "auto"])
def test_worked_example_computes_adabelief(impl: str) -> None:
    grads = torch.randn(25, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    factory = instantiate(OmegaConf.create(YAML))
    param = torch.nn.Parameter(torch.ones(7, dtype=torch.float64))
    optimizer = factory([param], lr=0.01, weight_decay=0.1, eps=1e-10, impl=impl)
    for grad in grads:
        param.grad = grad.clone()
        optimizer.step()
    expected = adabelief_by_hand(grads, lr=0.01, b1=0.9, b2=0.999, eps=1e-10, wd=0.1)
    torch.testing.assert_close(param.detach(), expected, rtol=1e-12, atol=1e-14)
    assert set(optimizer.state[param]) == {"step", "exp_avg", "exp_avg_var"}


def test_worked_example_validates_and_has_no_fused_kernel() -> None:
    params = [torch.nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match=r"^eps=0 must be > 0$"):
        AdaBelief(params, eps=0.0)
    with pytest.raises(ValueError, match="no fused kernel for AdaBelief"):
        AdaBelief(params, impl="fused")
