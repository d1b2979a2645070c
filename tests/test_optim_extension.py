"""The docs' worked example of adding an optimizer (AdaBelief, in "Adding an optimizer" of
scripts/docs/pages/optimizers.md) works as documented: the page's own code and config."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from tests import docs

# research/optim/adabelief.py and conf/optimizer/adabelief.yaml, read from the page: the
# module is registered under the name its config's `_target_` gives, no file is written.
AdaBelief = docs.load_module("adabelief-py", "research.optim.adabelief").AdaBelief
YAML = docs.block("adabelief-yaml").text


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
