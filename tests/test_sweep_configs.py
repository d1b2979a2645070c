"""The shipped search spaces (`conf/hparams_search/*.yaml`) compose and mean what they say."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from research.sweep.space import parse_search_space
from tests.conftest import CONF, run_cli

SEARCHES = [
    "adam_betas_lr",
    "adamw_lr_wd",
    "sgd_lr_momentum",
    "radam_lr_beta2",
    "adafactor_step_decay",
    "lion_lr_wd",
    "muon_lr_momentum",
    "schedule_free_lr_warmup",
    "prodigy_d_coef",
    "lamb_lr_wd",
]


@pytest.fixture
def compose_train() -> Iterator[Callable[..., DictConfig]]:
    def make(*overrides: str) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose("train", overrides=list(overrides), return_hydra_config=True)

    yield make
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("name", SEARCHES)
def test_search_config_selects_the_optuna_sweeper_and_a_small_problem(
    compose_train: Callable[..., DictConfig], name: str
) -> None:
    cfg = compose_train(f"hparams_search={name}")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("research_optuna_sweeper.optuna_sweeper.OptunaSweeper")
    assert sweeper.study_name == name and sweeper.direction == "maximize"
    assert cfg.optimized_metric == "val/acc"
    assert sweeper.sampler.name == "tpe"
    assert sweeper.sampler.multivariate is True and sweeper.sampler.constant_liar is True
    assert sweeper.pruner.name == "median"
    assert cfg.model._target_.endswith("MLP") and cfg.data._target_.endswith("MNIST1DDataModule")
    assert cfg.trainer.max_epochs <= 10


@pytest.mark.parametrize("name", SEARCHES)
def test_enqueued_reference_point_reaches_the_run_config(
    compose_train: Callable[..., DictConfig], name: str
) -> None:
    cfg = compose_train(f"hparams_search={name}")
    space = parse_search_space(OmegaConf.to_container(cfg.hydra.sweeper.params))
    (entry,) = OmegaConf.to_container(cfg.hydra.sweeper.enqueue)
    overrides = space.overrides(space.to_sampled(entry))
    run_cfg = compose_train(f"hparams_search={name}", *overrides)
    for key, value in entry.items():
        assert OmegaConf.select(run_cfg, key) == pytest.approx(value)


@pytest.mark.parametrize("name", ["adam_betas_lr", "sgd_lr_momentum"])
def test_the_optimizer_defaults_run_first(
    compose_train: Callable[..., DictConfig], name: str
) -> None:
    cfg = compose_train(f"hparams_search={name}")
    (entry,) = OmegaConf.to_container(cfg.hydra.sweeper.enqueue)
    assert {key: OmegaConf.select(cfg, key) for key in entry} == pytest.approx(entry)


def test_adam_betas_are_searched_as_one_minus_beta_on_a_log_scale(
    compose_train: Callable[..., DictConfig],
) -> None:
    cfg = compose_train("hparams_search=adam_betas_lr")
    space = parse_search_space(OmegaConf.to_container(cfg.hydra.sweeper.params))
    by_key = {p.key: p for p in space.params}
    for beta in ("optimizer.beta1", "optimizer.beta2"):
        param = by_key[beta]
        assert param.one_minus and param.distribution.log
        for value in (0.5, 0.9, 0.99, 0.999, 0.9999):
            assert param.distribution._contains(param.sampled(value)), f"{beta}={value}"
    assert by_key["optimizer.lr"].distribution.log


def test_a_sweep_subdir_naming_the_trial_number_passes_the_pre_flight(tmp_path: Path) -> None:
    """The benchmark names trial folders `trial_${trial.number}`, a node only the sweeper sets
    in each trial: the pre-flight, which checks the first point before any trial, must pass."""
    proc = run_cli(
        "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=1", "data=digits", "model=mlp",
        "trainer.max_epochs=1", "logger=csv", "callbacks=none", "test=false",
        "optimizer.lr=tag(log,interval(1e-3,1e-2))", "hydra.sweep.subdir=trial_${trial.number}",
        f"hydra.sweeper.storage=sqlite:///{tmp_path}/s.db", cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(tmp_path.glob("multirun/*/*/trial_0/results.json"))
