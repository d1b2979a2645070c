"""Optimizers with an evaluation point (Schedule-Free) and with parameter routing (Muon) in the
training loop: validation, test, checkpoints and the final model use the evaluation point,
resume continues identically, and the reference package's optimizer gets the same treatment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

import research.optim as ro
import research.training.optimizer_modes
from research.tracking.results import read_results
from research.training.pipeline import build_model, train
from tests.conftest import TINY

MakeCfg = Callable[..., DictConfig]
WITH_CHECKPOINTS = [o for o in TINY if o != "callbacks=none"]
SF = ["optimizer=schedule_free_adamw", "optimizer.lr=0.003", "optimizer.warmup_steps=20"]


def _metrics(results: dict) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "time"} for row in results["history"]]


def test_validation_matches_the_reference_packages_evaluation_point(
    make_cfg: MakeCfg, tmp_path: Path
) -> None:
    """The same run with schedulefree.AdamWScheduleFree: the framework calls its train() and
    eval() too, and every validation and test metric agrees with ours."""
    pytest.importorskip("schedulefree")
    ours = make_cfg(*TINY, *SF, output_dir=tmp_path / "ours")
    train(ours)
    theirs = make_cfg(*TINY, *SF, output_dir=tmp_path / "theirs")
    with open_dict(theirs):
        hp = {k: theirs.optimizer[k] for k in ("lr", "eps", "weight_decay", "warmup_steps")}
        theirs.optimizer = OmegaConf.create(
            {
                "_target_": "schedulefree.AdamWScheduleFree",
                "_partial_": True,
                "betas": [theirs.optimizer.beta1, theirs.optimizer.beta2],
                **hp,
            }
        )
    train(theirs)
    a, b = read_results(tmp_path / "ours"), read_results(tmp_path / "theirs")
    assert a["status"] == b["status"] == "completed"
    for mine, reference in zip(_metrics(a), _metrics(b), strict=True):
        assert mine.keys() == reference.keys()
        for key in mine:
            assert mine[key] == pytest.approx(reference[key], rel=1e-5, abs=1e-6), key
    for key in ("test/loss", "test/acc"):
        assert a["final"][key] == pytest.approx(b["final"][key], rel=1e-5, abs=1e-6)


def _bare_loop_with_the_reference(cfg: DictConfig) -> list[dict[str, float]]:
    """The run's model, batches and hyperparameters in a plain loop with
    schedulefree.AdamWScheduleFree, validated after each epoch at its `eval()` point."""
    schedulefree = pytest.importorskip("schedulefree")
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data, steps_per_batch=cfg.steps_per_batch)
    net = build_model(cfg.model, datamodule)
    hp = cfg.optimizer
    optimizer = schedulefree.AdamWScheduleFree(
        net.parameters(),
        lr=hp.lr,
        betas=(hp.beta1, hp.beta2),
        eps=hp.eps,
        weight_decay=hp.weight_decay,
        warmup_steps=hp.warmup_steps,
        r=hp.r,
        weight_lr_power=hp.weight_lr_power,
    )
    loader = datamodule.train_dataloader()
    val = datamodule.splits.val
    history = []
    for epoch in range(cfg.trainer.max_epochs):
        loader.sampler.set_epoch(epoch)
        net.train()
        optimizer.train()
        for chunk in loader:
            for x, y in chunk:
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(net(x), y).backward()
                optimizer.step()
        net.eval()
        optimizer.eval()
        with torch.no_grad():
            logits = net(val.inputs)
        history.append(
            {
                "val/loss": torch.nn.functional.cross_entropy(logits, val.targets).item(),
                "val/acc": (logits.argmax(-1) == val.targets).float().mean().item(),
            }
        )
    return history


def test_validation_is_the_reference_optimizers_eval_point(
    make_cfg: MakeCfg, tmp_path: Path
) -> None:
    cfg = make_cfg(*TINY, *SF, output_dir=tmp_path)
    train(cfg)
    framework = read_results(tmp_path)["history"]
    bare = _bare_loop_with_the_reference(cfg)
    assert len(framework) == len(bare) == cfg.trainer.max_epochs
    for ours, reference in zip(framework, bare, strict=True):
        assert ours["val/loss"] == pytest.approx(reference["val/loss"], rel=1e-5)
        assert ours["val/acc"] == pytest.approx(reference["val/acc"], abs=1e-9)


def test_without_the_switch_validation_would_see_the_training_point(
    make_cfg: MakeCfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(make_cfg(*TINY, *SF, output_dir=tmp_path / "switched"))
    monkeypatch.setattr(research.training.optimizer_modes, "set_mode", lambda *a, **k: False)
    train(make_cfg(*TINY, *SF, output_dir=tmp_path / "unswitched"))
    switched = read_results(tmp_path / "switched")["history"]
    unswitched = read_results(tmp_path / "unswitched")["history"]
    for a, b in zip(switched, unswitched, strict=True):  # the same training, up to rounding
        assert a["train/loss_epoch"] == pytest.approx(b["train/loss_epoch"], rel=1e-4)
        assert a["val/loss"] != pytest.approx(b["val/loss"], rel=1e-3)  # x is not y


def test_checkpoint_holds_the_evaluation_point(make_cfg: MakeCfg, tmp_path: Path) -> None:
    train(make_cfg(*WITH_CHECKPOINTS, *SF, output_dir=tmp_path))
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    state = checkpoint["optimizer_states"][0]
    assert all(group["train_mode"] is False for group in state["param_groups"])
    # the saved weights are x: train() moves them to y, eval() brings them back
    params = [torch.nn.Parameter(w.clone()) for w in checkpoint["state_dict"].values()]
    optimizer = ro.ScheduleFreeAdamW(params)
    optimizer.load_state_dict(state)
    saved = [p.detach().clone() for p in params]
    optimizer.train()
    assert all(not torch.equal(x, p) for x, p in zip(saved, params, strict=True))
    optimizer.eval()
    for x, p in zip(saved, params, strict=True):
        torch.testing.assert_close(p, x)


def test_resume_continues_exactly_as_the_uninterrupted_run(
    make_cfg: MakeCfg, tmp_path: Path
) -> None:
    full = [*WITH_CHECKPOINTS, *SF, "trainer.max_epochs=4"]
    train(make_cfg(*full, output_dir=tmp_path / "full"))
    interrupted = tmp_path / "interrupted"
    train(make_cfg(*full[:-1], "trainer.max_epochs=2", output_dir=interrupted))
    train(make_cfg(*full, "ckpt_path=last", output_dir=interrupted))
    a, b = read_results(tmp_path / "full"), read_results(interrupted)
    assert b["epochs"] == 4 and b["global_step"] == a["global_step"]
    assert b["final"] == a["final"]
    assert _metrics(b) == _metrics(a)


def test_checkpoints_mid_training_change_nothing(make_cfg: MakeCfg, tmp_path: Path) -> None:
    """A checkpoint at every chunk (in the middle of training, at y) writes x and the exact y,
    and training goes on from y: the run is the same as one without checkpoints."""
    settings = [*TINY, *SF, "steps_per_batch=8", "trainer.max_epochs=2"]
    train(make_cfg(*settings, output_dir=tmp_path / "none"))
    every = [*WITH_CHECKPOINTS, *SF, "steps_per_batch=8", "trainer.max_epochs=2"]
    train(make_cfg(*every, "callbacks.last_checkpoint.every_s=0", output_dir=tmp_path / "every"))
    a, b = read_results(tmp_path / "none"), read_results(tmp_path / "every")
    assert _metrics(b) == _metrics(a)
    assert b["final"] == a["final"]


def test_sigterm_mid_epoch_resumes_exactly(make_cfg: MakeCfg, tmp_path: Path) -> None:
    from research.training.signals import RunInterrupted
    from tests.test_run_experience import SigtermAt

    settings = [*TINY, *SF, "trainer.max_epochs=3", "steps_per_batch=4"]
    train(make_cfg(*settings, output_dir=tmp_path / "whole"))
    split = tmp_path / "split"
    with pytest.raises(RunInterrupted, match="SIGTERM"):
        train(make_cfg(*settings, output_dir=split), extra_callbacks=[SigtermAt(1, 3)])
    checkpoint = torch.load(split / "checkpoints/last.ckpt", weights_only=True)
    assert "training_point" in checkpoint  # saved mid-epoch, at y
    train(make_cfg(*settings, "ckpt_path=last", output_dir=split))
    a, b = read_results(tmp_path / "whole"), read_results(split)
    assert b["global_step"] == a["global_step"]
    assert b["final"] == a["final"] and _metrics(b) == _metrics(a)


@pytest.mark.parametrize("name", ["radam", "adafactor", "lion", "muon", "prodigy", "lamb"])
def test_each_new_optimizer_trains_and_resumes(
    make_cfg: MakeCfg, tmp_path: Path, name: str
) -> None:
    overrides = [*WITH_CHECKPOINTS, f"optimizer={name}", "trainer.max_epochs=2"]
    train(make_cfg(*overrides, output_dir=tmp_path / "full"))
    interrupted = tmp_path / "interrupted"
    train(make_cfg(*overrides[:-1], "trainer.max_epochs=1", output_dir=interrupted))
    train(make_cfg(*overrides, "ckpt_path=last", output_dir=interrupted))
    a, b = read_results(tmp_path / "full"), read_results(interrupted)
    assert a["status"] == "completed"
    assert _metrics(b) == _metrics(a)


def test_muon_is_given_the_network_and_routes_it(make_cfg: MakeCfg, tmp_path: Path) -> None:
    from research.training.module import SupervisedModule

    seen: list[ro.Muon] = []
    original = SupervisedModule.configure_optimizers

    def spy(self: SupervisedModule):  # type: ignore[no-untyped-def]
        result = original(self)
        seen.append(result)
        return result

    SupervisedModule.configure_optimizers = spy  # type: ignore[method-assign]
    try:
        train(make_cfg(*TINY, "optimizer=muon", "trainer.max_epochs=1", output_dir=tmp_path))
    finally:
        SupervisedModule.configure_optimizers = original  # type: ignore[method-assign]
    (optimizer,) = seen
    routes = {name: g["rule"] for g in optimizer.param_groups for name in g["param_names"]}
    # the MLP on digits: input layer and classifier by AdamW, the hidden layer by Muon
    assert routes["net.0.weight"] == "adamw" and routes["net.4.weight"] == "adamw"
    assert routes["net.2.weight"] == "muon"
    assert {routes[n] for n in routes if n.endswith("bias")} == {"adamw"}
