"""The optimizers that came after Adam, against their authors' code, step by step.

At every step both optimizers see the same parameters and gradients (the project's are reset to
the reference's after each comparison, so that a rounding difference cannot grow into a
different trajectory), over 200 steps of a small conv + MLP network with a 3-D filter, a
matrix, vectors and two parameter groups, random hyperparameters, weight decay on and off,
every `impl`, and a state_dict round trip of the project's optimizer mid-run. References:
torch.optim (RAdam, Adafactor, Muon, AdamW), lion-pytorch, schedulefree, prodigyopt and
pytorch_optimizer (the `dev` extra). Each reference runs in the mode whose arithmetic the
project's follows (its foreach path where it has one; lion_pytorch.Lion's for-loop); the other
modes agree to rounding.
Muon's foreach path batches its Newton-Schulz iterations and agrees to bfloat16 rounding;
every other path of every optimizer agrees with its reference to float32 rounding.
"""

from __future__ import annotations

import copy
import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

import research.optim as ro

lion_pytorch = pytest.importorskip("lion_pytorch")
schedulefree = pytest.importorskip("schedulefree")
prodigyopt = pytest.importorskip("prodigyopt")
pytorch_optimizer = pytest.importorskip("pytorch_optimizer")
from lion_pytorch.foreach import Lion as LionForeach  # noqa: E402

STEPS = 200
ROUND_TRIP_AT = 100
IMPLS = ["reference", "foreach", "auto"]

Groups = list[dict[str, Any]]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(2, 4, 3),  # a 3-D filter: Adafactor factors its last two dims, Muon flattens
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(24, 12),
        nn.Tanh(),
        nn.Linear(12, 3),
    )


def _batches(steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        (torch.randn(16, 2, 8, generator=generator), torch.randn(16, 3, generator=generator))
        for _ in range(steps)
    ]


def _groups(model: nn.Module, hp: dict[str, Any], second: dict[str, Any]) -> Groups:
    """Group 0: the hidden matrix; group 1: everything else, with some values changed."""
    params = list(model.parameters())
    return [{"params": [params[2]], **hp}, {"params": params[:2] + params[3:], **hp, **second}]


def _betas(group: dict[str, Any]) -> dict[str, Any]:
    out = dict(group)
    if "beta1" in out:
        out["betas"] = (out.pop("beta1"), out.pop("beta2"))
    return out


def _defaults(groups: Groups) -> dict[str, Any]:
    """Group 0's values as constructor arguments, as a user builds the reference."""
    return _betas({k: v for k, v in groups[0].items() if k != "params"})


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return 10 ** rng.uniform(low, high)


def _decay(rng: random.Random, on: bool) -> float:
    return rng.uniform(1e-3, 0.1) if on else 0.0


@dataclass(frozen=True)
class Case:
    ours: type[ro.ChainedOptimizer]
    sample: Callable[[random.Random, bool], dict[str, Any]]  # (rng, decay on) -> ours' hp
    second: Callable[[random.Random, dict[str, Any]], dict[str, Any]]  # group 1's changes
    reference: Callable[[Groups], Any]  # groups in our names -> the reference optimizer


# ---- hyperparameters, in the project's names ---------------------------------------------


def _radam_hp(rng: random.Random, decay: bool) -> dict[str, Any]:
    return {
        "lr": _log_uniform(rng, -4, -1.5),
        "beta1": rng.uniform(0.0, 0.99),
        "beta2": rng.uniform(0.9, 0.9999),
        "eps": _log_uniform(rng, -10, -4),
        "weight_decay": _decay(rng, decay),
        "decoupled_weight_decay": rng.random() < 0.5,
    }


def _adafactor_hp(rng: random.Random, decay: bool) -> dict[str, Any]:
    return {
        "lr": _log_uniform(rng, -3, -1),
        "beta2_decay": rng.uniform(-1.0, -0.5),
        "eps1": rng.choice([None, _log_uniform(rng, -6, -3)]),
        "eps2": _log_uniform(rng, -4, -2),
        "d": rng.uniform(1.0, 3.0),
        "weight_decay": _decay(rng, decay),
    }


def _lion_hp(rng: random.Random, decay: bool) -> dict[str, Any]:
    return {
        "lr": _log_uniform(rng, -5, -3),
        "beta1": rng.uniform(0.8, 0.99),
        "beta2": rng.uniform(0.9, 0.999),
        "weight_decay": _decay(rng, decay) * 10,
    }


def _muon_hp(rng: random.Random, decay: bool) -> dict[str, Any]:
    return {
        "lr": _log_uniform(rng, -3, -1),
        "momentum": rng.uniform(0.8, 0.99),
        "nesterov": rng.random() < 0.7,
        "weight_decay": _decay(rng, decay),
        "ns_steps": rng.randint(3, 6),
        "eps": _log_uniform(rng, -8, -6),
        "adjust_lr_fn": rng.choice(["original", "match_rms_adamw", "spectral_unclamped"]),
        "adamw_lr": _log_uniform(rng, -4, -2),
        "adamw_beta1": rng.uniform(0.5, 0.95),
        "adamw_beta2": rng.uniform(0.9, 0.999),
        "adamw_eps": _log_uniform(rng, -10, -6),
        "adamw_weight_decay": _decay(rng, decay),
    }


def _schedule_free_hp(rng: random.Random, decay: bool) -> dict[str, Any]:
    return {
        "lr": _log_uniform(rng, -4, -2),
        "beta1": rng.uniform(0.5, 0.95),
        "beta2": rng.uniform(0.9, 0.9999),
        "eps": _log_uniform(rng, -10, -4),
        "weight_decay": _decay(rng, decay),
        "warmup_steps": rng.randint(0, 50),
        "r": rng.choice([0.0, rng.uniform(0.0, 1.0)]),
        "weight_lr_power": rng.uniform(0.0, 3.0),
    }


def _prodigy_hp(rng: random.Random, decay: bool) -> dict[str, Any]:
    return {
        "lr": rng.choice([1.0, rng.uniform(0.3, 2.0)]),
        "beta1": rng.choice([0.0, rng.uniform(0.5, 0.95)]),
        "beta2": rng.uniform(0.9, 0.999),
        "beta3": rng.choice([None, rng.uniform(0.9, 0.999)]),
        "eps": _log_uniform(rng, -10, -6),
        "weight_decay": _decay(rng, decay),
        "decouple": rng.random() < 0.5,
        "use_bias_correction": rng.random() < 0.5,
        "safeguard_warmup": rng.random() < 0.5,
        "d0": _log_uniform(rng, -7, -5),
        "d_coef": rng.uniform(0.5, 2.0),
        "growth_rate": rng.choice([math.inf, rng.uniform(1.01, 1.2)]),
    }


def _lamb_hp(rng: random.Random, decay: bool) -> dict[str, Any]:
    return {
        "lr": _log_uniform(rng, -4, -1.5),
        "beta1": rng.uniform(0.5, 0.99),
        "beta2": rng.uniform(0.9, 0.9999),
        "eps": _log_uniform(rng, -8, -4),
        "weight_decay": _decay(rng, decay),
        "weight_decouple": rng.random() < 0.5,
        "grad_averaging": rng.random() < 0.7,
    }


def _lr_and_decay(rng: random.Random, hp: dict[str, Any]) -> dict[str, Any]:
    second = {"lr": hp["lr"] * rng.uniform(0.3, 3.0)}
    if hp["weight_decay"] > 0:
        second["weight_decay"] = rng.choice([0.0, rng.uniform(1e-3, 0.1)])
    return second


def _with_beta2(rng: random.Random, hp: dict[str, Any]) -> dict[str, Any]:
    return {**_lr_and_decay(rng, hp), "beta2": hp["beta2"] ** 0.5}


def _prodigy_second(rng: random.Random, hp: dict[str, Any]) -> dict[str, Any]:
    # group lrs must equal the largest or be 0; global settings are group 0's
    second = {"eps": hp["eps"] * 10, "safeguard_warmup": not hp["safeguard_warmup"]}
    if hp["weight_decay"] > 0:
        second["weight_decay"] = rng.choice([0.0, rng.uniform(1e-3, 0.1)])
    return second


# ---- the references, given groups in the project's names ---------------------------------


def _torch_radam(groups: Groups) -> torch.optim.Optimizer:
    return torch.optim.RAdam([_betas(g) for g in groups], **_defaults(groups), foreach=True)


def _torch_adafactor(groups: Groups) -> torch.optim.Optimizer:
    def rename(group: dict[str, Any]) -> dict[str, Any]:
        out = dict(group)
        out["eps"] = (out.pop("eps1"), out.pop("eps2"))
        return out

    renamed = [rename(g) for g in groups]
    defaults = {k: v for k, v in renamed[0].items() if k != "params"}
    return torch.optim.Adafactor(renamed, **defaults, foreach=True)


def _lion(groups: Groups) -> torch.optim.Optimizer:
    return lion_pytorch.Lion([_betas(g) for g in groups], **_defaults(groups))


def _schedule_free(groups: Groups) -> torch.optim.Optimizer:
    optimizer = schedulefree.AdamWScheduleFree(
        [_betas(g) for g in groups], **_defaults(groups), foreach=True
    )
    optimizer.train()
    return optimizer


def _prodigy(groups: Groups) -> torch.optim.Optimizer:
    return prodigyopt.Prodigy([_betas(g) for g in groups], **_defaults(groups))


def _lamb(groups: Groups) -> torch.optim.Optimizer:
    return pytorch_optimizer.Lamb([_betas(g) for g in groups], **_defaults(groups))


class MuonReference:
    """torch.optim.Muon on the matrices (a conv filter through a 2-D copy, as it takes only
    matrices), torch.optim.AdamW on the rest: the split the Muon authors train with."""

    def __init__(self, groups: Groups, is_muon: Callable[[nn.Parameter], bool]) -> None:
        muon_groups, adamw_groups, self.pairs = [], [], []
        for group in groups:
            hp = {k: v for k, v in group.items() if k != "params"}
            matrices = [p for p in group["params"] if is_muon(p)]
            others = [p for p in group["params"] if not is_muon(p)]
            proxies = [nn.Parameter(p.detach().reshape(len(p), -1).clone()) for p in matrices]
            self.pairs += list(zip(matrices, proxies, strict=True))
            if proxies:
                muon_groups.append(
                    {
                        "params": proxies,
                        "ns_coefficients": (hp["ns_a"], hp["ns_b"], hp["ns_c"]),
                        **{k: hp[k] for k in ("lr", "momentum", "nesterov", "weight_decay")},
                        **{k: hp[k] for k in ("eps", "ns_steps", "adjust_lr_fn")},
                    }
                )
            if others:
                adamw_groups.append(
                    {
                        "params": others,
                        "lr": hp["adamw_lr"],
                        "betas": (hp["adamw_beta1"], hp["adamw_beta2"]),
                        "eps": hp["adamw_eps"],
                        "weight_decay": hp["adamw_weight_decay"],
                    }
                )
        self.optimizers = []
        if muon_groups:
            self.optimizers.append(torch.optim.Muon(muon_groups))
        if adamw_groups:
            self.optimizers.append(torch.optim.AdamW(adamw_groups, foreach=True))

    @torch.no_grad()
    def step(self) -> None:
        for param, proxy in self.pairs:
            proxy.copy_(param.reshape(proxy.shape))
            proxy.grad = param.grad.reshape(proxy.shape).clone()
        for optimizer in self.optimizers:
            optimizer.step()
        for param, proxy in self.pairs:
            param.copy_(proxy.reshape(param.shape))


def _muon_reference(groups: Groups) -> MuonReference:
    defaults = ro.Muon.default_hyperparameters
    full = [{**defaults, **g} for g in groups]
    return MuonReference(full, lambda p: p.dim() >= 2)  # plain parameters: every matrix


CASES: dict[str, Case] = {
    "radam": Case(ro.RAdam, _radam_hp, _with_beta2, _torch_radam),
    "adafactor": Case(ro.Adafactor, _adafactor_hp, _lr_and_decay, _torch_adafactor),
    "lion": Case(ro.Lion, _lion_hp, _with_beta2, _lion),
    "muon": Case(ro.Muon, _muon_hp, _lr_and_decay, _muon_reference),
    "schedule_free_adamw": Case(
        ro.ScheduleFreeAdamW, _schedule_free_hp, _with_beta2, _schedule_free
    ),
    "prodigy": Case(ro.Prodigy, _prodigy_hp, _prodigy_second, _prodigy),
    "lamb": Case(ro.Lamb, _lamb_hp, _with_beta2, _lamb),
}


def _ours(name: str, groups: Groups, impl: str) -> ro.ChainedOptimizer:
    if name == "muon":  # plain parameter groups: every matrix goes to Muon's rule
        return ro.Muon(groups, impl=impl)
    defaults = {k: v for k, v in groups[0].items() if k != "params"}
    return CASES[name].ours(groups, impl=impl, **defaults)


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _reload(optimizer: ro.ChainedOptimizer, make: Callable[[], ro.ChainedOptimizer]):
    buffer = io.BytesIO()
    torch.save(optimizer.state_dict(), buffer)
    buffer.seek(0)
    fresh = make()
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    return fresh


def _lockstep(name: str, seed: int, decay: bool, impl: str, steps: int = STEPS) -> None:
    """Step ours and the reference side by side; compare after every step, then give ours the
    reference's parameters; reload ours from its state_dict at ROUND_TRIP_AT."""
    case = CASES[name]
    rng = random.Random(seed)
    hp = case.sample(rng, decay)
    second = case.second(rng, hp)
    theirs_model, ours_model = _model(), _model()
    theirs = case.reference(_groups(theirs_model, hp, second))

    def make_ours() -> ro.ChainedOptimizer:
        return _ours(name, _groups(ours_model, hp, second), impl)

    ours = make_ours()
    start = _flat(theirs_model)
    tolerance = {"rtol": 1e-6, "atol": 1e-7}
    if name == "muon" and impl == "foreach":
        # batched Newton-Schulz: bfloat16 products may round differently from torch's single
        # ones, which moves an orthogonalised entry by up to a few bfloat16 ulps
        tolerance = {"rtol": 0.0, "atol": 0.05 * hp["lr"]}
    for step, (x, y) in enumerate(_batches(steps), start=1):
        theirs_model.zero_grad()
        nn.functional.mse_loss(theirs_model(x), y).backward()
        for mine, reference in zip(ours_model.parameters(), theirs_model.parameters(), strict=True):
            mine.grad = reference.grad.clone()  # some references write into p.grad
        theirs.step()
        ours.step()
        for mine, reference in zip(ours_model.parameters(), theirs_model.parameters(), strict=True):
            torch.testing.assert_close(mine, reference, **tolerance, msg=f"step {step}")
            with torch.no_grad():
                mine.copy_(reference)
        if step == ROUND_TRIP_AT:
            ours = _reload(ours, make_ours)
    assert not torch.equal(_flat(theirs_model), start), "the reference did not train"


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("decay", [False, True], ids=["no_decay", "decay"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", CASES)
def test_follows_the_reference_step_by_step(name: str, seed: int, decay: bool, impl: str) -> None:
    _lockstep(name, seed, decay, impl)


@pytest.mark.parametrize("name", CASES)
def test_free_trajectory_stays_with_the_reference(name: str) -> None:
    """Without resetting, 200 steps on their own: rounding differences do not grow."""
    case = CASES[name]
    rng = random.Random(3)
    hp = case.sample(rng, True)
    second = case.second(rng, hp)
    results = []
    # Muon's batched Newton-Schulz (what `auto` runs) agrees with torch's one matrix at a time
    # to bfloat16 rounding only, which CPUs with native bfloat16 products (AVX512_BF16) make
    # visible: the free trajectory follows the path that agrees to float32 rounding.
    impl = "reference" if name == "muon" else "auto"
    for make in (case.reference, lambda groups: _ours(name, groups, impl)):
        model = _model()
        optimizer = make(_groups(model, hp, second))
        for x, y in _batches(STEPS):
            model.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        results.append(_flat(model))
    torch.testing.assert_close(results[1], results[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_state_dict_round_trip_continues_bit_for_bit(name: str) -> None:
    case = CASES[name]
    hp = case.sample(random.Random(5), True)
    batches = _batches(40)
    models, optimizers = [], []
    for _ in range(2):
        model = _model()
        models.append(model)
        optimizers.append(_ours(name, _groups(model, hp, {}), "auto"))
    for model, optimizer in zip(models, optimizers, strict=True):
        for x, y in batches[:20]:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
    optimizers[1] = _reload(optimizers[1], lambda: _ours(name, _groups(models[1], hp, {}), "auto"))
    for model, optimizer in zip(models, optimizers, strict=True):
        for x, y in batches[20:]:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
    assert torch.equal(_flat(models[0]), _flat(models[1]))


# ---- what only some of them have ---------------------------------------------------------


def _torch_for_loop(cls: type[torch.optim.Optimizer]) -> Callable[[Groups], Any]:
    def make(groups: Groups) -> torch.optim.Optimizer:
        if cls is torch.optim.Adafactor:
            groups = [{**g, "eps": (g["eps1"], g["eps2"])} for g in groups]
            groups = [{k: v for k, v in g.items() if k not in ("eps1", "eps2")} for g in groups]
            return cls(groups, foreach=False)
        return cls([_betas(g) for g in groups], **_defaults(groups), foreach=False)

    return make


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("radam", _torch_for_loop(torch.optim.RAdam)),
        ("adafactor", _torch_for_loop(torch.optim.Adafactor)),
        (
            "lion",
            lambda groups: LionForeach([_betas(g) for g in groups], **_defaults(groups)),
        ),
    ],
)
def test_the_references_other_modes_agree_to_rounding(name: str, reference: Any) -> None:
    """torch's for-loop RAdam and Adafactor round differently from the foreach paths the
    project follows, and lion-pytorch's foreach Lion (lerp) from its Lion, which the project
    follows; 200 free steps stay close."""
    rng = random.Random(0)
    hp = CASES[name].sample(rng, True)
    results = []
    for make in (reference, lambda groups: _ours(name, groups, "auto")):
        model = _model()
        optimizer = make(_groups(model, hp, {}))
        for x, y in _batches(STEPS):
            model.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        results.append(_flat(model))
    torch.testing.assert_close(results[1], results[0], rtol=1e-5, atol=1e-6)


def test_muon_routes_the_model_by_role_as_its_authors_train() -> None:
    """Given the model: hidden matrices and filters to Muon; the first layer, the output layer,
    biases to AdamW. Then each part matches its torch optimizer."""
    model = _model()
    optimizer = ro.Muon(model, lr=0.02, adamw_lr=1e-3)
    routes = {
        name: (group["rule"], group["role"])
        for group in optimizer.param_groups
        for name in group["param_names"]
    }
    assert routes == {
        "0.weight": ("adamw", "input"),
        "0.bias": ("adamw", "vector"),
        "3.weight": ("muon", "hidden"),
        "3.bias": ("adamw", "vector"),
        "5.weight": ("adamw", "output"),
        "5.bias": ("adamw", "vector"),
    }
    flipped = ro.Muon(model, muon_input=True, muon_output=True)
    assert {g["rule"] for g in flipped.param_groups if g["role"] != "vector"} == {"muon"}
    hp = {**ro.Muon.default_hyperparameters, "lr": 0.02, "adamw_lr": 1e-3, "weight_decay": 0.1}
    reference_model = _model()
    names = dict(reference_model.named_parameters())
    reference = MuonReference(
        [{"params": list(reference_model.parameters()), **hp}],
        lambda p: p is names["3.weight"],
    )
    ours = ro.Muon(model, lr=0.02, adamw_lr=1e-3, weight_decay=0.1)
    for x, y in _batches(30):
        for net, opt in ((model, ours), (reference_model, reference)):
            net.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()
    torch.testing.assert_close(_flat(model), _flat(reference_model), rtol=1e-6, atol=1e-7)


def test_muon_roles_of_the_projects_models() -> None:
    from research.data.spec import DataSpec
    from research.models.transformer import Transformer

    spec = DataSpec(name="t", kind="tokens", shape=(4,), num_classes=11, vocab_size=13)
    net = Transformer(spec, d_model=16, num_heads=2, num_layers=1)
    roles = {name: role for name, _, role in ro.routing.parameter_roles(net)}
    assert roles["position"] == "embedding"
    assert roles["features.embed.weight"] == "embedding"
    assert roles["head.weight"] == "output"
    assert roles["encoder.layers.0.self_attn.in_proj_weight"] == "hidden"
    assert roles["encoder.layers.0.linear1.weight"] == "hidden"
    assert roles["norm.weight"] == "vector"


def test_muon_refuses_vectors_in_its_rule() -> None:
    with pytest.raises(ValueError, match="needs matrices"):
        ro.Muon([{"params": [nn.Parameter(torch.ones(3))], "rule": "muon"}])


def test_schedule_free_evaluation_point_is_the_references() -> None:
    """eval() moves the parameters to x, train() back to y, as the package's; stepping in
    eval mode is refused."""
    hp = _schedule_free_hp(random.Random(2), True)
    models = [_model(), _model()]
    theirs = _schedule_free(_groups(models[0], hp, {}))
    ours = ro.ScheduleFreeAdamW(_groups(models[1], hp, {}), **hp)
    for step, (x, y) in enumerate(_batches(60), start=1):
        for model, optimizer in zip(models, (theirs, ours), strict=True):
            model.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        if step % 20 == 0:
            theirs.eval()
            ours.eval()
            torch.testing.assert_close(_flat(models[1]), _flat(models[0]), rtol=1e-6, atol=1e-7)
            theirs.train()
            ours.train()
    ours.eval()
    with pytest.raises(RuntimeError, match="eval mode"):
        ours.step()


def test_prodigy_estimates_d_as_the_reference_does() -> None:
    hp = {**ro.Prodigy.default_hyperparameters, "weight_decay": 0.01}
    models = [_model(), _model()]
    theirs = _prodigy(_groups(models[0], hp, {}))
    ours = ro.Prodigy(_groups(models[1], hp, {}))
    for x, y in _batches(50):
        for model, optimizer in zip(models, (theirs, ours), strict=True):
            model.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
    d_theirs, d_ours = theirs.param_groups[0]["d"], ours.param_groups[0]["d"]
    assert d_theirs > 100 * hp["d0"]  # it grew from d0
    assert d_ours == pytest.approx(d_theirs, rel=1e-6)
    assert ours.param_groups[1]["k"] == theirs.param_groups[1]["k"] == 50


def test_prodigy_refuses_groups_at_different_learning_rates() -> None:
    model = _model()
    params = list(model.parameters())
    optimizer = ro.Prodigy([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}])
    model(torch.randn(2, 2, 8)).sum().backward()
    with pytest.raises(RuntimeError, match="largest lr, or 0"):
        optimizer.step()


def test_adafactor_factors_the_last_two_dimensions() -> None:
    optimizer = ro.Adafactor(_model().parameters())
    model = optimizer.param_groups[0]["params"]
    for param in model:
        param.grad = torch.ones_like(param)
    optimizer.step()
    conv = optimizer.state[model[0]]
    assert conv["row_var"].shape == (4, 2, 1) and conv["col_var"].shape == (4, 1, 3)
    assert set(optimizer.state[model[1]]) == {"step", "variance"}


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (ro.RAdam, {"decoupled_weight_decay": 1}, "decoupled_weight_decay=1 must be true or false"),
        (
            ro.Adafactor,
            {"beta2_decay": 0.5},
            "beta2_decay=0.5 is out of range: must be in [-inf, 0]",
        ),
        (ro.Adafactor, {"d": 0.5}, "d=0.5 must be >= 1"),
        (ro.Muon, {"adjust_lr_fn": "max"}, "adjust_lr_fn='max' must be one of original, "),
        (ro.Muon, {"ns_steps": 2.5}, "ns_steps=2.5 must be an integer"),
        (ro.Muon, {"adamw_beta2": 1.0}, "adamw_beta2=1 is out of range: must be in [0, 1)"),
        (ro.Prodigy, {"d0": 0.0}, "d0=0 must be > 0"),
        (ro.ScheduleFreeAdamW, {"beta1": 0.0}, "beta1=0 is out of range: must be in (0, 1)"),
    ],
)
def test_invalid_values_fail_at_construction(cls: type, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{__import__('re').escape(message)}"):
        cls(_model().parameters(), **kwargs)


def test_compile_is_refused_for_rules_that_are_not_elementwise() -> None:
    for cls in (ro.Adafactor, ro.Muon, ro.Prodigy, ro.Lamb):
        with pytest.raises(ValueError, match="impl='compile' is not available"):
            cls(_model().parameters(), impl="compile")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["radam", "lion", "schedule_free_adamw"])
def test_compiled_elementwise_rules_follow_the_reference(name: str) -> None:
    _lockstep(name, 0, True, "compile", steps=30)


def test_deepcopy_keeps_muon_routing() -> None:
    optimizer = ro.Muon(_model())
    clone = copy.deepcopy(optimizer)
    assert clone.routing == optimizer.routing and clone.rule_defaults == optimizer.rule_defaults


@pytest.mark.parametrize(
    "cls",
    [ro.RAdam, ro.Adafactor, ro.Lion, ro.ScheduleFreeAdamW, ro.Prodigy, ro.Lamb, ro.RMSprop],
)
def test_every_code_path_computes_the_same_bits(cls: type[ro.ChainedOptimizer]) -> None:
    """impl=auto on CPU: small tensors together, medium ones in cache-sized runs, large ones
    alone; all of it is the per-tensor arithmetic, so every path gives the same bits."""
    shapes = [(50, 100), (60, 100), (41, 100), (700, 100), (2000, 100), (10,), (3,)]
    generator = torch.Generator().manual_seed(0)
    grads = [[torch.randn(s, generator=generator) for s in shapes] for _ in range(10)]
    results, paths = {}, {}
    for impl in ("reference", "foreach", "auto"):
        params = [nn.Parameter(torch.ones(s)) for s in shapes]
        optimizer = cls(params, impl=impl)
        for step_grads in grads:
            for param, grad in zip(params, step_grads, strict=True):
                param.grad = grad.clone()
            optimizer.step()
        results[impl], paths[impl] = _flat_list(params), optimizer.code_paths()
    assert paths["auto"] == ["chunked", "foreach"]
    assert torch.equal(results["auto"], results["reference"])
    assert torch.equal(results["foreach"], results["reference"])


def _flat_list(params: list[nn.Parameter]) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in params])
