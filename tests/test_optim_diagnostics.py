"""OptimizerProbe's numbers, and the Lightning callback that logs them under optim/...."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.loggers import CSVLogger
from torch import nn

import research.optim as ro
from research.training.callbacks.optim_diagnostics import OptimizerDiagnostics


def _probed_step(optimizer: torch.optim.Optimizer, grads: list[torch.Tensor]) -> dict[str, float]:
    for group in optimizer.param_groups:
        for param, grad in zip(group["params"], grads, strict=False):
            param.grad = grad.clone()
    probe = ro.OptimizerProbe(optimizer)
    probe.before_step()
    optimizer.step()
    return probe.after_step()


def _param(values: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(values.clone())


def test_first_adam_step_reports_exact_values() -> None:
    grad = torch.tensor([1.0, -2.0, 0.5, 4.0])
    param = _param(torch.tensor([1.0, 1.0, -2.0, 2.0]))
    optimizer = ro.Adam([param], lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    metrics = _probed_step(optimizer, [grad])

    eff_lr = 0.1 / (grad.abs() + 1e-8)  # v_hat after one step is g^2
    update = 0.1 * grad / (grad.abs() + 1e-8)  # sign descent
    expected = {
        "lr": 0.1,
        "grad_norm": float(grad.norm()),
        "bias_correction1": 0.1,
        "bias_correction2": 0.001,
        "beta1_window": 10.0,
        "beta2_window": 1000.0,
        "v_hat_mean": float(grad.square().mean()),
        "eff_lr_mean": float(eff_lr.mean()),
        "eff_lr_p5": float(torch.quantile(eff_lr, 0.05)),
        "eff_lr_p95": float(torch.quantile(eff_lr, 0.95)),
        "update_rms": float(update.square().mean().sqrt()),
        "update_rms_ratio": float(update.norm() / torch.tensor([1.0, 1, 2, 2]).norm()),
        "step_bound": 0.1 * 0.1 / math.sqrt(0.001),  # beta1, beta2 in the paper's second case
        "step_bound_fraction": 0.0,
        "max_step_to_bound": math.sqrt(0.001) / 0.1,
    }
    for name, value in expected.items():
        assert metrics[f"optim/group0/{name}"] == pytest.approx(value, rel=1e-5), name
    for name in ("lr", "beta2_window", "grad_norm", "eff_lr_p95", "update_rms_ratio"):
        assert metrics[f"optim/{name}"] == pytest.approx(expected[name], rel=1e-5), name


def test_sign_like_first_step_sits_at_the_bound_in_the_papers_first_case() -> None:
    param = _param(torch.ones(8))
    optimizer = ro.Adam([param], lr=0.01, beta1=0.99, beta2=0.999)  # 0.01 <= sqrt(0.001)
    metrics = _probed_step(optimizer, [torch.linspace(-3, 3, 8)])
    assert metrics["optim/group0/step_bound"] == pytest.approx(0.01)
    assert metrics["optim/step_bound_fraction"] == 1.0


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            lambda p: ro.Adam(p, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1),
            lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        ),
        (
            lambda p: ro.AMSGrad(p, lr=0.01, beta1=0.8, beta2=0.99),
            lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), amsgrad=True),
        ),
        (
            lambda p: ro.RMSprop(p, lr=0.01, rho=0.9, momentum=0.5),
            lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5),
        ),
        (lambda p: ro.Adagrad(p, lr=0.01), lambda p: torch.optim.Adagrad(p, lr=0.01, eps=1e-8)),
        (
            lambda p: ro.Momentum(p, lr=0.01, momentum=0.9),
            lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
        ),
    ],
)
def test_torch_optimizers_report_what_the_project_ones_do(
    ours: Callable[[Any], torch.optim.Optimizer], theirs: Callable[[Any], torch.optim.Optimizer]
) -> None:
    generator = torch.Generator().manual_seed(0)
    grads = [torch.randn(5, 4, generator=generator) for _ in range(6)]
    reports = []
    for make in (ours, theirs):
        param = _param(torch.ones(5, 4))
        optimizer = make([param])
        for grad in grads[:-1]:
            param.grad = grad.clone()
            optimizer.step()
        reports.append(_probed_step(optimizer, [grads[-1]]))
    assert reports[0].keys() == reports[1].keys()
    for name, value in reports[0].items():
        assert reports[1][name] == pytest.approx(value, rel=1e-5, abs=1e-12), name


def test_sgd_reports_no_second_moment_metrics() -> None:
    metrics = _probed_step(ro.SGD([_param(torch.ones(3))], lr=0.1), [torch.ones(3)])
    assert not any("eff_lr" in name or "bias_correction" in name for name in metrics)
    assert metrics["optim/group0/update_rms_ratio"] == pytest.approx(0.1)
    momentum = _probed_step(ro.Momentum([_param(torch.ones(3))], lr=0.1), [torch.ones(3)])
    assert momentum["optim/group0/momentum_window"] == pytest.approx(10.0)


def test_stateless_adam_reports_its_restarted_t() -> None:
    param = _param(torch.ones(3))
    optimizer = ro.AdamStateless([param], lr=0.1, beta1=0.9, beta2=0.999)
    for _ in range(5):
        metrics = _probed_step(optimizer, [torch.tensor([1.0, -1.0, 2.0])])
    assert metrics["optim/group0/bias_correction1"] == pytest.approx(0.1)
    assert metrics["optim/group0/bias_correction2"] == pytest.approx(0.001)
    assert optimizer.state[param]["step"] == 5


def test_recording_happens_only_when_a_probe_asks() -> None:
    param = _param(torch.ones(3))
    optimizer = ro.Adam([param], impl="fused")
    param.grad = torch.ones(3)
    optimizer.step()
    assert optimizer.last_records is None
    _probed_step(optimizer, [torch.ones(3)])
    optimizer.step()
    assert optimizer.last_records is None


def test_quantiles_of_many_coordinates_are_estimated_from_a_sample() -> None:
    param = _param(torch.zeros(50_000))
    optimizer = ro.Adam([param], lr=1.0, eps=1e-8)
    grad = torch.rand(50_000, generator=torch.Generator().manual_seed(0)) + 0.5
    param.grad = grad
    probe = ro.OptimizerProbe(optimizer, max_samples=5_000)
    probe.before_step()
    optimizer.step()
    metrics = probe.after_step()
    exact = torch.quantile(1.0 / grad, torch.tensor([0.05, 0.95]))
    assert metrics["optim/eff_lr_p5"] == pytest.approx(float(exact[0]), rel=0.02)
    assert metrics["optim/eff_lr_p95"] == pytest.approx(float(exact[1]), rel=0.02)


# ---- the Lightning callback ---------------------------------------------------------------


class TinyRegression(pl.LightningModule):
    def __init__(self, make_optimizer: Callable[[Any], torch.optim.Optimizer], scheduled: bool):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        self.make_optimizer, self.scheduled = make_optimizer, scheduled

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self) -> Any:
        decay = [self.net[0].weight, self.net[2].weight]
        rest = [self.net[0].bias, self.net[2].bias]
        optimizer = self.make_optimizer([{"params": decay}, {"params": rest, "lr": 0.02}])
        if not self.scheduled:
            return optimizer
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


def _fit(make_optimizer: Callable[[Any], Any], tmp_path: Path, scheduled: bool) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(
        torch.randn(64, 4, generator=generator), torch.randn(64, 1, generator=generator)
    )
    logger = CSVLogger(tmp_path, name="run")
    trainer = pl.Trainer(
        max_steps=6,
        accelerator="cpu",
        logger=logger,
        callbacks=[OptimizerDiagnostics(every_n_steps=2)],
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    model = TinyRegression(make_optimizer, scheduled)
    trainer.fit(model, torch.utils.data.DataLoader(data, batch_size=8))
    with open(Path(logger.log_dir) / "metrics.csv") as file:
        rows = [row for row in csv.DictReader(file) if row.get("optim/lr")]
    return rows


def test_callback_logs_adam_diagnostics_to_csv(tmp_path: Path) -> None:
    rows = _fit(lambda groups: ro.Adam(groups, lr=0.01, beta1=0.8), tmp_path, scheduled=True)
    assert [int(row["step"]) for row in rows] == [0, 2, 4]
    for row, t in zip(rows, (1, 3, 5), strict=True):
        lr0 = 0.01 * 0.5 ** ((t - 1) // 2)  # StepLR halves both groups every 2 steps
        assert float(row["optim/lr"]) == pytest.approx(lr0)
        assert float(row["optim/group1/lr"]) == pytest.approx(2 * lr0)
        assert float(row["optim/group0/bias_correction1"]) == pytest.approx(1 - 0.8**t)
        assert float(row["optim/group0/bias_correction2"]) == pytest.approx(1 - 0.999**t)
        assert float(row["optim/beta1_window"]) == pytest.approx(5.0)
        assert float(row["optim/group1/beta2_window"]) == pytest.approx(1000.0)
        assert 0 < float(row["optim/eff_lr_p5"]) <= float(row["optim/eff_lr_p95"])
        assert float(row["optim/eff_lr_p95"]) <= lr0 * 2 / 1e-8
        assert 0 < float(row["optim/group0/update_rms_ratio"]) < 1
        assert float(row["optim/grad_norm"]) > 0
        assert 0 <= float(row["optim/step_bound_fraction"]) <= 1


def test_callback_works_with_torch_optimizers(tmp_path: Path) -> None:
    rows = _fit(lambda groups: torch.optim.Adam(groups, lr=0.01), tmp_path, scheduled=False)
    assert len(rows) == 3
    assert float(rows[-1]["optim/group0/bias_correction1"]) == pytest.approx(1 - 0.9**5)
    assert float(rows[-1]["optim/eff_lr_p95"]) > 0


def test_callback_logs_what_applies_to_sgd(tmp_path: Path) -> None:
    rows = _fit(lambda groups: ro.SGD(groups, lr=0.01), tmp_path, scheduled=False)
    assert len(rows) == 3
    assert float(rows[0]["optim/group1/lr"]) == pytest.approx(0.02)
    assert float(rows[0]["optim/update_rms_ratio"]) > 0
    assert not rows[0].get("optim/eff_lr_p95")


def test_diagnostics_callback_config_adds_to_the_defaults(
    make_cfg: Callable[..., DictConfig],
) -> None:
    callbacks = make_cfg("callbacks=optim_diagnostics").callbacks
    default = make_cfg("callbacks=default").callbacks
    assert set(callbacks) == {*default, "optim_diagnostics"}
    callback = instantiate(callbacks.optim_diagnostics)
    assert isinstance(callback, OptimizerDiagnostics)
    assert callback.every_n_steps == 50


# ---- what is specific to the optimizers after Adam ----------------------------------------


def _probe_steps(optimizer: torch.optim.Optimizer, model: nn.Module, steps: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    metrics: dict[str, float] = {}
    for _ in range(steps):
        optimizer.zero_grad()
        model(torch.randn(16, 6, generator=generator)).square().mean().backward()
        probe = ro.OptimizerProbe(optimizer)
        probe.before_step()
        optimizer.step()
        metrics = probe.after_step()
    return metrics


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3))


def test_prodigy_reports_d_and_its_effective_lr() -> None:
    model = _net()
    optimizer = ro.Prodigy(model.parameters(), lr=0.5)
    metrics = _probe_steps(optimizer, model, 10)
    d = optimizer.param_groups[0]["d"]
    assert d > 1e-6  # it grew from d0
    assert metrics["optim/d"] == metrics["optim/group0/d"] == pytest.approx(d)
    assert metrics["optim/effective_lr"] == pytest.approx(0.5 * d)


def test_schedule_free_reports_its_averaging_weight() -> None:
    model = _net()
    optimizer = ro.ScheduleFreeAdamW(model.parameters(), warmup_steps=0, r=0.0)
    metrics = _probe_steps(optimizer, model, 4)
    # constant lr, r = 0: every step weighs the same, so c_{t+1} = 1 / t
    assert metrics["optim/averaging_weight"] == pytest.approx(1 / 4)
    assert metrics["optim/scheduled_lr"] == pytest.approx(0.0025)


def test_adafactor_reports_its_relative_step() -> None:
    model = _net()
    metrics = _probe_steps(ro.Adafactor(model.parameters(), lr=0.3), model, 25)
    assert metrics["optim/relative_step"] == pytest.approx(min(0.3, 1 / 25**0.5))


def test_radam_reports_its_rectification() -> None:
    model = _net()
    early = _probe_steps(ro.RAdam(model.parameters(), beta2=0.999), model, 3)
    assert early["optim/rectification"] == 0.0 and early["optim/sma_length"] < 5
    model = _net()
    later = _probe_steps(ro.RAdam(model.parameters(), beta2=0.9), model, 30)
    assert 0 < later["optim/rectification"] < 1


def test_muon_reports_the_update_rms_of_each_matrix_it_updates() -> None:
    model = _net()
    metrics = _probe_steps(ro.Muon(model, lr=0.02), model, 3)
    per_matrix = {k for k in metrics if k.startswith("optim/muon/")}
    assert per_matrix == {"optim/muon/2.weight/update_rms", "optim/muon/2.weight/update_rms_ratio"}
    # an orthogonalised update of an 8 x 12 matrix has RMS about lr * sqrt(1 / 12)
    assert 0.2 * 0.02 / 12**0.5 < metrics["optim/muon/2.weight/update_rms"] < 2 * 0.02


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: __import__("prodigyopt").Prodigy(p), {"optim/d", "optim/effective_lr"}),
        (lambda p: torch.optim.Adafactor(p), {"optim/relative_step"}),
    ],
)
def test_reference_implementations_report_the_same_scalars(make: Any, expected: set) -> None:
    model = _net()
    metrics = _probe_steps(make(model.parameters()), model, 3)
    assert expected <= set(metrics)


def test_schedule_free_package_reports_its_averaging_weight() -> None:
    schedulefree = pytest.importorskip("schedulefree")
    model = _net()
    optimizer = schedulefree.AdamWScheduleFree(model.parameters())
    optimizer.train()
    assert _probe_steps(optimizer, model, 4)["optim/averaging_weight"] == pytest.approx(1 / 4)


@pytest.mark.parametrize(
    ("optimizer", "column"),
    [
        ("prodigy", "optim/d"),
        ("schedule_free_adamw", "optim/averaging_weight"),
        ("adafactor", "optim/relative_step"),
        ("muon", "optim/muon/net.2.weight/update_rms"),
    ],
)
def test_diagnostics_of_a_run_log_the_rules_scalars(
    make_cfg: Callable[..., DictConfig], tmp_path: Path, optimizer: str, column: str
) -> None:
    from research.training.pipeline import train
    from tests.conftest import TINY

    overrides = [o for o in TINY if not o.startswith("callbacks=")]
    cfg = make_cfg(
        *overrides,
        f"optimizer={optimizer}",
        "callbacks=optim_diagnostics",
        "callbacks.optim_diagnostics.every_n_steps=10",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        output_dir=tmp_path,
    )
    train(cfg)
    with open(tmp_path / "metrics.csv") as file:
        values = [row[column] for row in csv.DictReader(file) if row.get(column)]
    assert values and all(math.isfinite(float(v)) for v in values)
