"""The articles' exact claims about the update rule, as properties (seeds.md claims 2 and 4-7).

Gradients are fed directly (they do not depend on the parameters), in float64, so each step's
update is a function of the gradient history alone. eps=1e-30 plays the "eps = 0" of the
claims while staying a legal value. Where a claim as stated is false, a test shows the
counterexample and the precise statement is tested instead.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import research.optim as ro

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True, database=None)
TINY_EPS = 1e-30
LR = 1e-3

betas1 = st.floats(0.0, 0.995)
betas2 = st.floats(0.5, 0.9999)


@st.composite
def gradient_histories(draw: Any, max_steps: int = 15, growth: tuple = (0.5, 1.5)) -> torch.Tensor:
    """(steps, 6) gradients: magnitudes over 4 decades, random signs, some zeros (sparsity),
    scaled by growth^t so that both shrinking and growing histories occur."""
    steps = draw(st.integers(1, max_steps))
    seed = draw(st.integers(0, 2**31 - 1))
    sparsity = draw(st.sampled_from([0.0, 0.0, 0.5, 0.9]))
    rate = draw(st.floats(*growth))
    generator = torch.Generator().manual_seed(seed)
    shape = (steps, 6)
    magnitude = 10 ** (4 * torch.rand(shape, generator=generator, dtype=torch.float64) - 2)
    sign = torch.randint(0, 2, shape, generator=generator).double() * 2 - 1
    kept = torch.rand(shape, generator=generator, dtype=torch.float64) >= sparsity
    scale = rate ** torch.arange(steps, dtype=torch.float64)[:, None]
    return magnitude * sign * kept * scale


def step_updates(optimizer_cls: type, grads: torch.Tensor, **hp: float) -> torch.Tensor:
    """The update theta_t - theta_{t-1} of each step, for a parameter of grads' width.

    theta is reset to 0 before each step (no weight decay here, so the state does not depend
    on it): the update is then read exactly, not as a difference of two larger numbers.
    """
    param = torch.nn.Parameter(torch.zeros(grads.shape[1], dtype=torch.float64))
    optimizer = optimizer_cls([param], **hp)
    updates = []
    for grad in grads:
        param.grad = grad.clone()
        with torch.no_grad():
            param.zero_()
        optimizer.step()
        updates.append(param.detach().clone())
    return torch.stack(updates)


def adam_hp(beta1: float, beta2: float, eps: float = TINY_EPS) -> dict[str, float]:
    return {"lr": LR, "beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": 0.0}


def tight_bound(beta1: float, beta2: float, t: int) -> float:
    """max |m_hat| / sqrt(v_hat) over all gradient histories of length t (Cauchy-Schwarz).

    m_hat = sum_k w_k g_{t-k}, v_hat = sum_k u_k g_{t-k}^2 with bias-corrected EMA weights
    w, u; the maximum sqrt(sum_k w_k^2 / u_k) is attained by g_{t-k} proportional to w_k / u_k.
    """
    total = 0.0
    for k in range(t):
        w = (1 - beta1) * beta1**k / (1 - beta1**t)
        u = (1 - beta2) * beta2**k / (1 - beta2**t)
        total += w * w / u
    return math.sqrt(total)


def worst_case_history(beta1: float, beta2: float, t: int) -> torch.Tensor:
    ages = torch.arange(t - 1, -1, -1, dtype=torch.float64)  # oldest first
    return ((beta1 / beta2) ** ages)[:, None]


# ---- claim 5: invariance to rescaling the gradient --------------------------------------

SCALE_INVARIANT = {
    ro.Adam: adam_hp,
    ro.AdamW: adam_hp,
    ro.AMSGrad: adam_hp,
    ro.AdamNoBiasCorrection: adam_hp,
    ro.AdamStateless: adam_hp,
    ro.NAdam: adam_hp,
    ro.RMSprop: lambda b1, b2: {"lr": LR, "rho": b2, "eps": TINY_EPS, "momentum": b1},
    ro.Adagrad: lambda b1, b2: {"lr": LR, "eps": TINY_EPS},
}


@PROPERTY
@given(
    grads=gradient_histories(),
    scale=st.floats(1e-3, 1e3),
    optimizer_cls=st.sampled_from(list(SCALE_INVARIANT)),
    beta1=betas1,
    beta2=betas2,
)
def test_adaptive_step_is_invariant_to_gradient_scale(
    grads: torch.Tensor, scale: float, optimizer_cls: type, beta1: float, beta2: float
) -> None:
    hp = SCALE_INVARIANT[optimizer_cls](beta1, beta2)
    expected = step_updates(optimizer_cls, grads, **hp)
    scaled = step_updates(optimizer_cls, scale * grads, **hp)
    torch.testing.assert_close(scaled, expected, rtol=1e-9, atol=0.0)


def test_scale_invariance_holds_only_up_to_eps() -> None:
    grads = torch.ones(5, 3, dtype=torch.float64)
    hp = adam_hp(0.9, 0.999, eps=1e-8)
    unscaled = step_updates(ro.Adam, grads, **hp)
    rescaled = step_updates(ro.Adam, 1e-8 * grads, **hp)  # c * |g| == eps
    torch.testing.assert_close(rescaled, unscaled / 2, rtol=1e-6, atol=0.0)


def test_plain_sgd_is_not_scale_invariant() -> None:
    grads = torch.ones(2, 3, dtype=torch.float64)
    torch.testing.assert_close(
        step_updates(ro.SGD, 10 * grads, lr=LR), 10 * step_updates(ro.SGD, grads, lr=LR)
    )


# ---- claim 6: the per-coordinate step bound ---------------------------------------------


@PROPERTY
@given(grads=gradient_histories(max_steps=30), beta1=betas1, beta2=betas2)
def test_adam_step_never_exceeds_the_tight_bound(
    grads: torch.Tensor, beta1: float, beta2: float
) -> None:
    updates = step_updates(ro.Adam, grads, **adam_hp(beta1, beta2)).abs()
    for t, update in enumerate(updates, start=1):
        assert update.max() <= LR * tight_bound(beta1, beta2, t) * (1 + 1e-9)


@PROPERTY
@given(grads=gradient_histories(max_steps=30, growth=(1.0, 1.0)), beta1=betas1, beta2=betas2)
def test_paper_bound_lr_holds_when_gradient_magnitudes_do_not_grow(
    grads: torch.Tensor, beta1: float, beta2: float
) -> None:
    """|step| <= lr if each coordinate's |g| never increases and beta1 <= beta2.

    Then m_hat averages |g| over more recent (smaller) values than v_hat does, so
    |m_hat| <= sum u_k |g_k| <= sqrt(v_hat): the claim holds whatever 1 - beta1 is.
    """
    beta1 = min(beta1, beta2)
    signs = torch.where(grads < 0, -1.0, 1.0)
    shrinking = grads.abs().sort(dim=0, descending=True).values * signs
    updates = step_updates(ro.Adam, shrinking, **adam_hp(beta1, beta2)).abs()
    assert updates.max() <= LR * (1 + 1e-9)


@pytest.mark.parametrize(
    ("beta1", "beta2", "steps", "seeds_bound"),
    [
        (0.99, 0.999, 1000, 1.0),  # 1 - beta1 <= sqrt(1 - beta2): the seeds say |step| <= lr
        (0.9, 0.999, 300, 0.1 / math.sqrt(0.001)),  # the defaults: seeds say <= 3.16 lr
    ],
)
def test_claim_6_is_exceeded_by_growing_gradients(
    beta1: float, beta2: float, steps: int, seeds_bound: float
) -> None:
    grads = worst_case_history(beta1, beta2, steps)
    last_step = step_updates(ro.Adam, grads, **adam_hp(beta1, beta2))[-1].abs().item()
    assert last_step / LR == pytest.approx(tight_bound(beta1, beta2, steps), rel=1e-9)
    assert last_step > 1.15 * seeds_bound * LR


def test_a_sparse_spike_approaches_the_papers_second_bound() -> None:
    steps = 3000
    grads = torch.zeros(steps, 1, dtype=torch.float64)
    grads[-1] = 1.0
    last_step = step_updates(ro.Adam, grads, **adam_hp(0.9, 0.999))[-1].abs().item()
    second_case = LR * 0.1 / math.sqrt(0.001)
    assert 0.95 * second_case < last_step <= second_case


# ---- claim 7: bias correction on the first steps ----------------------------------------


@PROPERTY
@given(grads=gradient_histories(), beta1=betas1, beta2=betas2)
def test_bias_correction_rescales_step_t_by_a_known_factor(
    grads: torch.Tensor, beta1: float, beta2: float
) -> None:
    """Uncorrected step t = (1 - beta1^t) / sqrt(1 - beta2^t) * the corrected step t."""
    corrected = step_updates(ro.Adam, grads, **adam_hp(beta1, beta2))
    uncorrected = step_updates(ro.AdamNoBiasCorrection, grads, **adam_hp(beta1, beta2))
    t = torch.arange(1, len(grads) + 1, dtype=torch.float64)[:, None]
    factor = (1 - beta1**t) / (1 - beta2**t).sqrt()
    torch.testing.assert_close(uncorrected, corrected * factor, rtol=1e-9, atol=0.0)


@pytest.mark.parametrize(
    ("beta1", "beta2", "first_step_ratio"),
    [(0.9, 0.999, 3.1623), (0.99, 0.999, 0.31623), (0.9, 0.99, 1.0)],
)
def test_without_bias_correction_first_steps_are_off_in_either_direction(
    beta1: float, beta2: float, first_step_ratio: float
) -> None:
    """Claim 7 says too small; with the default betas the first step is 3.16x too large."""
    grads = torch.ones(2000, 1, dtype=torch.float64)
    hp = adam_hp(beta1, beta2)
    ratio = step_updates(ro.AdamNoBiasCorrection, grads, **hp) / step_updates(ro.Adam, grads, **hp)
    assert ratio[0].item() == pytest.approx(first_step_ratio, rel=1e-4)
    assert ratio[-1].item() == pytest.approx(1.0, abs=0.2)


# ---- article 4's stateless Adam ---------------------------------------------------------


@PROPERTY
@given(
    grads=gradient_histories(),
    beta1=betas1,
    beta2=betas2,
    eps=st.floats(1e-12, 1e-4),
)
def test_stateless_adam_is_sign_descent(
    grads: torch.Tensor, beta1: float, beta2: float, eps: float
) -> None:
    updates = step_updates(ro.AdamStateless, grads, **adam_hp(beta1, beta2, eps))
    torch.testing.assert_close(updates, -LR * grads / (grads.abs() + eps), rtol=1e-12, atol=0.0)


# ---- claim 2: Adagrad's step only shrinks; RMSprop's recovers ----------------------------


def effective_lrs(optimizer_cls: type, grads: torch.Tensor, **hp: float) -> torch.Tensor:
    """lr / (sqrt(s) + eps) per coordinate after each step, read through OptimizerProbe."""
    param = torch.nn.Parameter(torch.zeros(grads.shape[1], dtype=torch.float64))
    optimizer = optimizer_cls([param], **hp)
    history = []
    for grad in grads:
        param.grad = grad.clone()
        probe = ro.OptimizerProbe(optimizer)
        probe.before_step()
        optimizer.step()
        metrics = probe.after_step()
        (second_moment,) = optimizer.last_records[0].tensors
        history.append(hp["lr"] / (second_moment.sqrt() + hp["eps"]))
        assert metrics["optim/eff_lr_mean"] == pytest.approx(float(history[-1].mean()))
    return torch.stack(history)


@PROPERTY
@given(grads=gradient_histories(growth=(0.5, 1.5)))
def test_adagrad_effective_step_never_grows(grads: torch.Tensor) -> None:
    eff_lr = effective_lrs(ro.Adagrad, grads, lr=0.01, eps=1e-10)
    assert (eff_lr[1:] <= eff_lr[:-1]).all()


def test_rmsprop_effective_step_recovers_when_gradients_shrink_adagrads_does_not() -> None:
    grads = torch.cat([torch.ones(50, 1), 0.01 * torch.ones(200, 1)]).double()
    adagrad = effective_lrs(ro.Adagrad, grads, lr=0.01, eps=1e-10)[:, 0]
    rmsprop = effective_lrs(ro.RMSprop, grads, lr=0.01, rho=0.9, eps=1e-10)[:, 0]
    assert adagrad[-1] < adagrad[49]
    assert rmsprop[-1] > 50 * rmsprop[49]


# ---- claim 4: a larger beta2 gives history more weight, not less -------------------------


def test_larger_beta2_remembers_longer() -> None:
    grads = torch.cat([torch.ones(1, 1), torch.zeros(100, 1)]).double()
    remaining = {}
    for beta2 in (0.9, 0.99, 0.999):
        param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        optimizer = ro.Adam([param], **adam_hp(0.9, beta2))
        for grad in grads:
            param.grad = grad.clone()
            optimizer.step()
        remaining[beta2] = optimizer.state[param]["exp_avg_sq"].item() / (1 - beta2)
        assert remaining[beta2] == pytest.approx(beta2**100)
    assert remaining[0.9] < remaining[0.99] < remaining[0.999]
