"""Each project optimizer against its reference: same trajectory over 200 steps to 1e-6.

A small MLP with two parameter groups (different lr and weight decay or betas), random
hyperparameters with non-zero weight decay, float32. Every implementation is checked:
the reference and foreach paths, torch's fused kernel where the chain has one, and `auto`.
"""

from __future__ import annotations

import io
import math
import random
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import research.optim as ro
from research.optim.base import LARGE_ON_CPU
from research.optim.fused import fused_kernel
from research.optim.transforms import FirstMomentEMA

STEPS = 200


Factory = Callable[[list[dict[str, Any]]], torch.optim.Optimizer]


class SeedsAdam(torch.optim.Optimizer):
    """The seeds' update, written out independently of research.optim, with coupled L2 on g.

    `restart=True` is article 4's diy_adam (t, m, v re-initialised at every call);
    `bias_correction=False` is article 1's update. Written in torch.optim.Adam's arithmetic
    order: these updates are close to sign descent, where any other rounding of a near-zero
    gradient flips a step of size lr, and 200 steps then diverge far beyond 1e-6.
    """

    def __init__(self, params: Any, bias_correction: bool, restart: bool, **hp: float) -> None:
        super().__init__(params, hp)
        self.bias_correction, self.restart = bias_correction, restart

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            b1, b2, lr, eps = group["beta1"], group["beta2"], group["lr"], group["eps"]
            for p in group["params"]:
                state = self.state[p]
                if self.restart or not state:
                    state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                g = p.grad.add(p, alpha=group["weight_decay"])
                state["t"] += 1
                m, v, t = state["m"], state["v"], state["t"]
                m.lerp_(g, 1 - b1)  # b1 * m + (1 - b1) * g
                v.mul_(b2).addcmul_(g, g, value=1 - b2)  # b2 * v + (1 - b2) * g^2
                if self.bias_correction:  # m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps)
                    denominator = (v.sqrt() / (1 - b2**t) ** 0.5).add_(eps)
                    p.addcdiv_(m, denominator, value=-lr / (1 - b1**t))
                else:  # m / (sqrt(v) + eps)
                    p.addcdiv_(m, v.sqrt().add_(eps), value=-lr)


def _betas(hp: dict[str, Any]) -> dict[str, Any]:
    """Project hyperparameter names to torch's: beta1/beta2 -> betas, rho -> alpha."""
    out = dict(hp)
    if "beta1" in out:
        out["betas"] = (out.pop("beta1"), out.pop("beta2"))
    if "rho" in out:
        out["alpha"] = out.pop("rho")
    return out


def _torch(cls: type[torch.optim.Optimizer], **fixed: Any) -> Callable[[str], Factory]:
    """torch's optimizer in the mode with the same arithmetic as our `impl`.

    Our reference and foreach paths follow torch's foreach path (which torch's for-loop agrees
    with bit for bit, except NAdam's, which divides before the square root); our fused path is
    torch's fused kernel.
    """

    def in_mode(impl: str) -> Factory:
        mode = {"fused": True} if impl == "fused" else {"foreach": True}

        def make(groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
            defaults = _betas({k: v for k, v in groups[0].items() if k != "params"})
            return cls([_betas(g) for g in groups], **defaults, **fixed, **mode)

        return make

    return in_mode


def _seeds(bias_correction: bool, restart: bool) -> Callable[[str], Factory]:
    def make(groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        defaults = {k: v for k, v in groups[0].items() if k != "params"}
        return SeedsAdam(groups, bias_correction, restart, **defaults)

    return lambda impl: make


def _adam_hp(rng: random.Random) -> dict[str, float]:
    return {
        "lr": 10 ** rng.uniform(-4, -1.5),
        "beta1": rng.uniform(0.0, 0.99),
        "beta2": rng.uniform(0.9, 0.9999),
        "eps": 10 ** rng.uniform(-10, -4),
        "weight_decay": rng.uniform(1e-3, 0.1),
    }


def _sgd_hp(rng: random.Random) -> dict[str, float]:
    return {"lr": 10 ** rng.uniform(-3, -1), "weight_decay": rng.uniform(1e-3, 0.1)}


def _momentum_hp(rng: random.Random) -> dict[str, float]:
    return {**_sgd_hp(rng), "momentum": rng.uniform(0.1, 0.95)}


def _adagrad_hp(rng: random.Random) -> dict[str, float]:
    return {**_sgd_hp(rng), "eps": 10 ** rng.uniform(-10, -4)}


def _rmsprop_hp(rng: random.Random) -> dict[str, float]:
    return {
        "lr": 10 ** rng.uniform(-4, -2),
        "rho": rng.uniform(0.8, 0.999),
        "eps": 10 ** rng.uniform(-10, -4),
        "momentum": rng.choice([0.0, rng.uniform(0.1, 0.9)]),
        "weight_decay": rng.uniform(1e-3, 0.1),
    }


def _nadam_hp(rng: random.Random) -> dict[str, float]:
    return {**_adam_hp(rng), "momentum_decay": rng.uniform(1e-3, 1e-2)}


# name: (project class, reference factory, hyperparameter sampler)
Reference = Callable[[str], Factory]  # impl -> the reference optimizer to compare it with
CASES: dict[str, tuple[type[ro.ChainedOptimizer], Reference, Callable[[random.Random], dict]]] = {
    "sgd": (ro.SGD, _torch(torch.optim.SGD), _sgd_hp),
    "momentum": (ro.Momentum, _torch(torch.optim.SGD), _momentum_hp),
    "nesterov": (ro.Nesterov, _torch(torch.optim.SGD, nesterov=True), _momentum_hp),
    "adagrad": (ro.Adagrad, _torch(torch.optim.Adagrad), _adagrad_hp),
    "rmsprop": (ro.RMSprop, _torch(torch.optim.RMSprop), _rmsprop_hp),
    "adam": (ro.Adam, _torch(torch.optim.Adam), _adam_hp),
    "adamw": (ro.AdamW, _torch(torch.optim.AdamW), _adam_hp),
    "amsgrad": (ro.AMSGrad, _torch(torch.optim.Adam, amsgrad=True), _adam_hp),
    "nadam": (ro.NAdam, _torch(torch.optim.NAdam), _nadam_hp),
    "adam_no_bias_correction": (
        ro.AdamNoBiasCorrection,
        _seeds(bias_correction=False, restart=False),
        _adam_hp,
    ),
    "adam_stateless": (ro.AdamStateless, _seeds(bias_correction=True, restart=True), _adam_hp),
}
FUSED = [name for name, (cls, _, _) in CASES.items() if fused_kernel(cls.chain) is not None]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 3))


def _groups(model: nn.Module, hp: dict[str, float], rng: random.Random) -> list[dict[str, Any]]:
    """Two groups: the first layer's weight at `hp`; the rest with some values changed."""
    second = {"lr": hp["lr"] * rng.uniform(0.3, 3.0), "weight_decay": rng.uniform(0.0, 0.1)}
    for name in ("beta2", "momentum", "rho"):
        if name in hp and hp[name] > 0:
            second[name] = hp[name] ** 0.5  # still in (0, 1), and different
    if "beta2" in second:
        second["beta1"] = hp["beta1"]  # torch takes both as `betas`
    rest = [model[0].bias, model[2].weight, model[2].bias]
    return [{"params": [model[0].weight], **hp}, {"params": rest, **second}]


def _batches(steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(steps, 16, 6, generator=generator)
    targets = torch.randn(steps, 16, 3, generator=generator)
    return list(zip(inputs, targets, strict=True))


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list[Any]) -> None:
    for x, y in batches:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _run(name: str, seed: int, make: Callable[[list[dict[str, Any]]], Any]) -> torch.Tensor:
    rng = random.Random(seed)
    hp = CASES[name][2](rng)
    model = _model()
    _train(model, make(_groups(model, hp, rng)), _batches(STEPS))
    return _flat(model)


def _ours(name: str, impl: str) -> Callable[[list[dict[str, Any]]], ro.ChainedOptimizer]:
    def make(groups: list[dict[str, Any]]) -> ro.ChainedOptimizer:
        defaults = {k: v for k, v in groups[0].items() if k != "params"}
        return CASES[name][0](groups, impl=impl, **defaults)

    return make


def _assert_matches(ours: torch.Tensor, reference: torch.Tensor) -> None:
    assert not torch.equal(reference, _flat(_model())), "the reference did not train"
    torch.testing.assert_close(ours, reference, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", CASES)
def test_matches_reference_every_impl(name: str, seed: int) -> None:
    references = {"foreach": _run(name, seed, CASES[name][1]("foreach"))}
    if name in FUSED:
        references["fused"] = _run(name, seed, CASES[name][1]("fused"))
    for impl in ["reference", "foreach", "auto", *(["fused"] if name in FUSED else [])]:
        arithmetic = "fused" if impl in ("fused", "auto") and name in FUSED else "foreach"
        _assert_matches(_run(name, seed, _ours(name, impl)), references[arithmetic])


def test_the_torch_chains_have_fused_kernels() -> None:
    assert set(FUSED) == {"sgd", "momentum", "nesterov", "adagrad", "adam", "adamw", "amsgrad"}


@pytest.mark.parametrize("name", CASES)
def test_state_dict_round_trip_mid_run_continues_identically(name: str) -> None:
    rng = random.Random(7)
    hp = CASES[name][2](rng)
    batches = _batches(40)
    model = _model()
    optimizer = _ours(name, "auto")(_groups(model, hp, rng))
    _train(model, optimizer, batches[:20])

    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer)
    resumed_model = _model()
    resumed_model.load_state_dict(saved["model"])
    resumed = _ours(name, "auto")(_groups(resumed_model, CASES[name][2](random.Random(0)), rng))
    resumed.load_state_dict(saved["optimizer"])
    assert resumed.param_groups[1]["lr"] == optimizer.param_groups[1]["lr"]

    _train(model, optimizer, batches[20:])
    _train(resumed_model, resumed, batches[20:])
    assert torch.equal(_flat(resumed_model), _flat(model))
    state = resumed.state[resumed_model[0].weight]
    assert state["step"] == 40


@pytest.mark.parametrize("impl", ["reference", "foreach", "auto"])
def test_lr_scheduler_drives_lr_in_param_groups(impl: str) -> None:
    def schedule(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))

    results = []
    for make in (_torch(torch.optim.AdamW)(impl), _ours("adamw", impl)):
        model = _model()
        hp = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.05}
        optimizer = make([{"params": list(model.parameters()), **hp}])
        scheduler = schedule(optimizer)
        for x, y in _batches(30):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        assert math.isclose(optimizer.param_groups[0]["lr"], 1e-2 / 31)
        results.append(_flat(model))
    torch.testing.assert_close(results[1], results[0], rtol=1e-6, atol=1e-7)


def test_params_without_grad_are_left_alone_and_keep_their_own_step() -> None:
    model = _model()
    optimizer = ro.Adam(model.parameters(), lr=1e-2, impl="foreach")
    frozen = model[2].bias.detach().clone()
    for step, (x, y) in enumerate(_batches(6)):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        if step < 3:
            model[2].bias.grad = None
        optimizer.step()
        if step < 3:
            assert torch.equal(model[2].bias, frozen)
    assert optimizer.state[model[0].weight]["step"] == 6
    assert optimizer.state[model[2].bias]["step"] == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beta1": 1.5}, "beta1=1.5 is out of range: must be in [0, 1)"),
        ({"beta2": 1.0}, "beta2=1 is out of range: must be in [0, 1)"),
        ({"lr": -1}, "lr=-1 must be >= 0"),
        ({"eps": 0}, "eps=0 must be > 0 for Adam (it divides by sqrt(v)+eps)"),
        ({"weight_decay": -0.1}, "weight_decay=-0.1 must be >= 0"),
        ({"beta1": "0.9"}, "beta1='0.9' must be a real number"),
    ],
)
def test_invalid_hyperparameters_fail_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ro.Adam(_model().parameters(), **kwargs)


def test_invalid_param_group_is_rejected_and_not_added() -> None:
    model = _model()
    optimizer = ro.RMSprop([model[0].weight])
    with pytest.raises(ValueError, match=r"rho=1 is out of range"):
        optimizer.add_param_group({"params": [model[0].bias], "rho": 1.0})
    assert len(optimizer.param_groups) == 1


def test_unknown_hyperparameter_and_impl_are_errors() -> None:
    params = list(_model().parameters())
    with pytest.raises(TypeError, match=r"unknown hyperparameter\(s\) \['betas'\]"):
        ro.Adam(params, betas=(0.9, 0.99))
    with pytest.raises(ValueError, match=r"impl='fast' is not one of"):
        ro.Adam(params, impl="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"no fused kernel for NAdam"):
        ro.NAdam(params, impl="fused")


def test_fused_kernels_are_matched_by_chain_not_by_class() -> None:
    class SameAsAdam(ro.Adam):
        pass

    class AdamWithMax(ro.Adam):
        chain = (*ro.AMSGrad.chain[:-1], ro.Adam.chain[-1])

    class AdamOnOtherBetas(ro.Adam):
        chain = (ro.Adam.chain[0], FirstMomentEMA(beta="beta2"), *ro.Adam.chain[2:])

    assert fused_kernel(SameAsAdam.chain) is fused_kernel(ro.Adam.chain) is not None
    assert fused_kernel(AdamWithMax.chain) is fused_kernel(ro.AMSGrad.chain) is not None
    assert fused_kernel(AdamOnOtherBetas.chain) is None
    assert fused_kernel(ro.AdamNoBiasCorrection.chain) is None


def test_a_chain_and_its_defaults_must_agree() -> None:
    with pytest.raises(TypeError, match="chain reads"):

        class Broken(ro.ChainedOptimizer):  # beta2 missing
            chain = ro.Adam.chain
            default_hyperparameters = {"lr": 1e-3, "beta1": 0.9, "eps": 1e-8, "weight_decay": 0}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["adam", "adamw", "nadam", "adam_stateless"])
def test_compiled_chain_matches_reference(name: str) -> None:
    """impl="compile" traces the reference path; inductor may round differently (FMA)."""
    reference = _run(name, 1, CASES[name][1]("foreach"))
    _assert_matches(_run(name, 1, _ours(name, "compile")), reference)


@pytest.mark.parametrize("name", ["rmsprop", "nadam", "adam_stateless"])
def test_auto_takes_large_cpu_tensors_one_by_one_and_small_ones_together(name: str) -> None:
    sizes = (LARGE_ON_CPU + 1, 10, 3)
    generator = torch.Generator().manual_seed(0)
    grads = [[torch.randn(n, generator=generator) for n in sizes] for _ in range(5)]
    hp = CASES[name][2](random.Random(0))
    results = []
    for make in (CASES[name][1]("foreach"), _ours(name, "auto")):
        params = [nn.Parameter(torch.ones(n)) for n in sizes]
        optimizer = make([{"params": params, **hp}])
        for step_grads in grads:
            for param, grad in zip(params, step_grads, strict=True):
                param.grad = grad.clone()
            optimizer.step()
        results.append(torch.cat([p.detach() for p in params]))
    torch.testing.assert_close(results[1], results[0], rtol=1e-6, atol=1e-7)
