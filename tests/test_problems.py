"""Non-neural problems (Reddi et al.'s online linear problem, DeepOBS's noisy quadratic) run
through the same config, Trainer and results as the networks."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from omegaconf import DictConfig

from research.config.errors import ConfigError
from research.data.gaussian_noise import GaussianNoiseDataModule
from research.data.online_linear import OnlineLinearDataModule
from research.data.spec import DataSpec
from research.models.base import IncompatibleDataError
from research.models.mlp import MLP
from research.problems.bounded_linear import BoundedLinear
from research.problems.quadratic import Quadratic, hessian
from research.tracking.results import read_results
from research.training.pipeline import train
from research.training.schedulers import inverse_sqrt

MakeCfg = Callable[..., DictConfig]
FAST = ["logger=csv", "callbacks=none", "trainer.enable_progress_bar=false"]


def test_hessian_has_the_requested_spectrum_and_is_symmetric() -> None:
    q = hessian([(90, 0.0, 1.0), (10, 30.0, 60.0)], seed=42).double()
    eigenvalues = torch.linalg.eigvalsh(q)
    assert torch.allclose(q, q.T)
    assert ((eigenvalues[:90] >= 0) & (eigenvalues[:90] <= 1)).all()
    assert ((eigenvalues[90:] >= 30) & (eigenvalues[90:] <= 60)).all()
    assert torch.equal(hessian([(3, 0.0, 1.0)], seed=1), hessian([(3, 0.0, 1.0)], seed=1))


def test_quadratic_loss_and_gradient_are_the_formula() -> None:
    data = GaussianNoiseDataModule(dim=5, train_size=4)
    problem = Quadratic(data.spec, eigenvalue_bands=[(5, 1.0, 2.0)], hessian_seed=0, init=0.5)
    noise = data.splits.train.inputs
    q = problem.hessian.double()
    offset = problem.theta.detach().double() - noise.double()
    expected = 0.5 * torch.einsum("bi,ij,bj->b", offset, q, offset)
    losses = problem(noise)
    assert torch.allclose(losses.double(), expected, rtol=1e-6)
    losses.mean().backward()
    assert torch.allclose(problem.theta.grad.double(), (offset @ q).mean(0), rtol=1e-5)


def test_online_linear_sequence_is_reddi_et_al() -> None:
    data = OnlineLinearDataModule(steps_per_epoch=303)
    coefficients = data.splits.train.inputs[:, 0]
    large = torch.nonzero(coefficients == 1010).flatten().tolist()
    assert large == [0, 101, 202]  # t = index + 1, so t mod 101 = 1
    assert (coefficients[coefficients != 1010] == -10).all()
    assert data.splits.val.inputs.mean().item() == pytest.approx(10 / 101)
    stochastic = OnlineLinearDataModule(steps_per_epoch=101 * 200, stochastic=True)
    assert (stochastic.splits.train.inputs == 1010).float().mean().item() == pytest.approx(
        0.01, abs=0.003
    )
    expected = 0.01 * 1010 + 0.99 * -10  # E[c] for Reddi et al.'s stochastic version
    assert stochastic.splits.val.inputs.mean().item() == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"multiple of data\.period"):
        OnlineLinearDataModule(steps_per_epoch=100)


def test_problems_and_networks_refuse_each_others_data() -> None:
    vector = OnlineLinearDataModule(steps_per_epoch=101).spec
    with pytest.raises(IncompatibleDataError, match="accepts signal, image, tokens"):
        MLP(vector)
    with pytest.raises(ConfigError, match="takes 100-dimensional samples"):
        Quadratic(GaussianNoiseDataModule(dim=50).spec)
    with pytest.raises(IncompatibleDataError, match="accepts vector"):
        BoundedLinear(DataSpec(name="mnist1d", kind="signal", shape=(1, 40), num_classes=10))


def test_inverse_sqrt_schedule_is_lr_over_sqrt_t() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    schedule = inverse_sqrt(optimizer)
    seen = []
    for _ in range(4):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert seen == pytest.approx([0.5 / math.sqrt(t) for t in (1, 2, 3, 4)])


def test_online_problem_trains_projected_and_reports_x(make_cfg: MakeCfg) -> None:
    cfg = make_cfg(
        "data=online_linear", "data.steps_per_epoch=505", "model=bounded_linear",
        "optimizer=adam", "optimizer.lr=0.5", "optimizer.beta2=0.99", "scheduler=inverse_sqrt",
        "trainer.max_epochs=2", "optimized_metric=val/loss", *FAST,
    )  # fmt: skip
    train(cfg)
    results = read_results(cfg.paths.output_dir)
    assert results["status"] == "completed"
    x = results["final"]["val/x"]
    assert -1.0 <= x <= 1.0
    # val holds one period of losses: the expected loss per step is (1010 - 100 * 10) / 101 * x
    # (float32 sums of +-1010 x terms that cancel to 10 x: a 1e-5 relative error is expected)
    assert results["final"]["val/loss"] == pytest.approx(10 / 101 * x, rel=1e-4)
    assert "val/acc" not in results["final"]
    assert [record["val/x"] for record in results["history"]][-1] == x


def test_noisy_quadratic_trains_towards_the_minimum(make_cfg: MakeCfg) -> None:
    cfg = make_cfg(
        "data=gaussian_noise", "model=quadratic", "optimizer=momentum", "optimizer.lr=0.01",
        "trainer.max_epochs=5", "optimized_metric=val/loss", *FAST,
    )  # fmt: skip
    assert train(cfg) == read_results(cfg.paths.output_dir)["final"]["val/loss"]
    history = read_results(cfg.paths.output_dir)["history"]
    assert history[-1]["val/distance"] < history[0]["val/distance"] < 10.0  # init: all ones
    assert history[-1]["val/loss"] < history[0]["val/loss"]
