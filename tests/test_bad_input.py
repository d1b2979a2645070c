"""Bad values of every config group are refused at start-up: one line naming the field, the
value and what is allowed, exit code 2, no run folder, sweep folder or study.

Most cases run in-process through the same start-up check the command runs (the Hydra
callback `CheckBeforeStart`, the sweeper's constructor): the config is composed once per
group selection and each value is applied as Hydra parses it. A smaller set runs the real
command in a fresh process, single runs, basic multiruns and Optuna sweeps alike."""

from __future__ import annotations

import copy
import functools
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import DictConfig, OmegaConf, open_dict

from research.config.checks import validate
from research.config.errors import ConfigError
from research.config.job import as_job
from research.sweep.options import check_sweeper
from research.training.before_start import CheckBeforeStart
from tests.conftest import CONF, TINY, run_cli

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None)
SWEEP = ("hparams_search=sgd_lr",)


@pytest.fixture(scope="module", autouse=True)
def hydra_compose() -> Iterator[None]:
    """One Hydra initialisation for the module: composing is the slow part of a case."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield
    base.cache_clear()
    HydraConfig.instance().cfg = None


@functools.cache
def base(groups: tuple[str, ...]) -> DictConfig:
    return compose("train", overrides=list(groups), return_hydra_config=True)


def configured(groups: tuple[str, ...], overrides: list[str], run_dir: Path) -> DictConfig:
    """The config of `python -m research.train GROUPS OVERRIDES`: each value parsed by Hydra's
    own override parser, applied to the composed config (`+key=` adds a key)."""
    cfg = copy.deepcopy(base(groups))
    parser = OverridesParser.create()
    for override in parser.parse_overrides([*overrides, f"hydra.run.dir={run_dir}"]):
        value = override.value()
        if override.is_add():
            with open_dict(cfg):
                OmegaConf.update(cfg, override.key_or_group, value, force_add=True)
        else:
            OmegaConf.update(cfg, override.key_or_group, value)
    return cfg


def refused_line(call: Any, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line a start-up refusal prints, having checked its exit code."""
    with pytest.raises(SystemExit) as exit_info:
        call()
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and not out, err
    return lines[0]


# (group choices, overrides, the start of the line after "error: ")
CASES: list[tuple[tuple[str, ...], list[str], str]] = [
    # run values
    ((), ["seed=-1"], "seed=-1 is invalid: must be an integer in [0, 4294967295]"),
    ((), ["seed=4294967296"], "seed=4294967296 is invalid"),
    ((), ["seed=1.5"], "seed=1.5 is invalid"),
    ((), ["seed=abc"], "seed='abc' is invalid"),
    ((), ["seed=true"], "seed=true is invalid"),
    ((), ["seed=null"], "seed=null is invalid"),
    ((), ["steps_per_batch=0"], "steps_per_batch=0 is invalid: must be an integer >= 1"),
    ((), ["check_finite_every_n_steps=0"], "check_finite_every_n_steps=0 is invalid"),
    ((), ["divergence_factor=0.5"], "divergence_factor=0.5 is invalid: must be null"),
    ((), ["divergence_factor=nan"], "divergence_factor=nan is invalid"),
    ((), ["torch_threads=0"], "torch_threads=0 is invalid"),
    ((), ["torch_threads=-4"], "torch_threads=-4 is invalid"),
    ((), ["test=maybe"], "test='maybe' is invalid: must be true or false"),
    ((), ["task_name=''"], "task_name='' is invalid: must be a non-empty string"),
    ((), ["tags=3"], "tags=3 is invalid: must be a list of strings"),
    ((), ["ckpt_path=missing.ckpt"], "ckpt_path='missing.ckpt' is invalid"),
    ((), ["optimized_metric=val/f1"], "optimized_metric='val/f1' is invalid"),
    ((), ["optimized_metric=[]"], "optimized_metric=[] is invalid"),
    ((), ["test=false", "optimized_metric=test/acc"], "test=false is invalid with"),
    # optimizer values every optimizer shares
    ((), ["optimizer.lr=-1"], "optimizer.lr=-1 is invalid: must be >= 0"),
    ((), ["optimizer.lr=nan"], "optimizer.lr=nan is invalid: must be a finite number >= 0"),
    ((), ["optimizer.lr=inf"], "optimizer.lr=inf is invalid"),
    ((), ["optimizer.lr=fast"], "optimizer.lr='fast' is invalid: must be a number >= 0"),
    ((), ["optimizer.beta1=1"], "optimizer.beta1=1 is invalid: must be in [0, 1)"),
    ((), ["optimizer.beta2=-0.1"], "optimizer.beta2=-0.1 is invalid"),
    ((), ["optimizer.eps=0"], "optimizer.eps=0 is invalid: must be > 0"),
    ((), ["optimizer.weight_decay=-1e-4"], "optimizer.weight_decay=-0.0001 is invalid"),
    (("optimizer=momentum",), ["optimizer.momentum=1.5"], "optimizer.momentum=1.5 is invalid"),
    (("optimizer=rmsprop",), ["optimizer.rho=-0.5"], "optimizer.rho=-0.5 is invalid"),
    # data: shared values
    ((), ["data.batch_size=0"], "data.batch_size=0 is invalid: must be an integer >= 1"),
    ((), ["data.batch_size=-8"], "data.batch_size=-8 is invalid"),
    ((), ["data.batch_size=1.5"], "data.batch_size=1.5 is invalid"),
    ((), ["data.eval_batch_size=0"], "data.eval_batch_size=0 is invalid"),
    ((), ["data.val_fraction=0"], "data.val_fraction=0 is invalid: must be in (0, 1)"),
    ((), ["data.val_fraction=1"], "data.val_fraction=1 is invalid"),
    ((), ["data.split_seed=-1"], "data.split_seed=-1 is invalid"),
    ((), ["data.seed=-3"], "data.seed=-3 is invalid"),
    ((), ["+data.shuffle=sometimes"], "data.shuffle='sometimes' is invalid"),
    # data: each module's own
    ((), ["data.train_split=0"], "data.train_split=0 is invalid: must be in (0, 1)"),
    ((), ["data.train_split=1.2"], "data.train_split=1.2 is invalid"),
    ((), ["data.num_samples=0"], "data.num_samples=0 is invalid: must be an integer >= 10"),
    ((), ["data.num_samples=10", "data.train_split=0.1"], "data.num_samples=10 with train_"),
    ((), ["data.data_seed=-1"], "data.data_seed=-1 is invalid"),
    (("data=digits",), ["data.test_fraction=0"], "data.test_fraction=0 is invalid"),
    (("data=digits",), ["data.test_fraction=0.9999"], "data.test_fraction=0.9999 with"),
    (("data=gaussian_noise",), ["data.dim=0"], "data.dim=0 is invalid"),
    (("data=gaussian_noise",), ["data.train_size=-1"], "data.train_size=-1 is invalid"),
    (("data=gaussian_noise",), ["data.noise_level=-0.6"], "data.noise_level=-0.6 is invalid"),
    (("data=modular_arithmetic",), ["data.p=1"], "data.p=1 is invalid"),
    (("data=modular_arithmetic",), ["data.p=100000"], "data.p=100000 is invalid"),
    (("data=modular_arithmetic",), ["data.operation=%"], "data.operation='%' is invalid"),
    (("data=modular_arithmetic",), ["data.operation=/", "data.p=91"], "data.p=91 is invalid"),
    (("data=modular_arithmetic",), ["data.train_fraction=0"], "data.train_fraction=0 is"),
    (("data=modular_arithmetic",), ["data.p=2", "data.train_fraction=0.9"], "data.p=2 with"),
    (("data=online_linear",), ["data.period=1"], "data.period=1 is invalid"),
    (("data=online_linear",), ["data.steps_per_epoch=100"], "data.steps_per_epoch=100 is"),
    (("data=online_linear",), ["data.large=inf"], "data.large=inf is invalid"),
    (("data=online_linear",), ["data.large_probability=0.3"], "data.large_probability=0.3"),
    (("data=online_linear",), ["data.large_probability=0"], "data.large_probability=0 is"),
    (("data=text",), [], "data.path=??? is invalid: it is required"),
    (("data=text",), ["data.path=no/such.txt"], "data.path='no/such.txt' is invalid"),
    (("data=text",), ["data.path=README.md", "data.seq_len=0"], "data.seq_len=0 is invalid"),
    (("data=text",), ["data.path=README.md", "data.eval_fraction=0.5"], "data.eval_fraction="),
    (("data=mnist",), ["data.name=svhn"], "data.name='svhn' is invalid: must be one of"),
    (("data=mnist",), ["data.download=yes"], "data.download='yes' is invalid"),
    # model
    (("model=mlp",), ["model.width=0"], "model.width=0 is invalid: must be an integer >= 1"),
    (("model=mlp",), ["model.depth=-1"], "model.depth=-1 is invalid: must be an integer >= 0"),
    (("model=mlp",), ["model.width=64.5"], "model.width=64.5 is invalid"),
    (("model=mlp",), ["model.compile=fast"], "model.compile='fast' is invalid"),
    ((), ["model.channels=[]"], "model.channels=[] is invalid"),
    ((), ["model.channels=[64,0]"], "model.channels=[64, 0] is invalid"),
    ((), ["model.kernel_size=0"], "model.kernel_size=0 is invalid"),
    ((), ["model.stride=-2"], "model.stride=-2 is invalid"),
    (("model=lstm",), ["model.hidden_size=0"], "model.hidden_size=0 is invalid"),
    (("model=gru",), ["model.num_layers=0"], "model.num_layers=0 is invalid"),
    (("model=gru",), ["model.cell=rnn"], "model.cell='rnn' is invalid"),
    (("model=lstm",), ["model.embed_size=-1"], "model.embed_size=-1 is invalid"),
    (("model=transformer",), ["model.num_heads=3"], "model.num_heads=3 is invalid: must divide"),
    (("model=transformer",), ["model.d_model=0"], "model.d_model=0 is invalid"),
    (("model=transformer",), ["model.dropout=1"], "model.dropout=1 is invalid"),
    (("model=transformer",), ["model.ff_mult=0"], "model.ff_mult=0 is invalid"),
    (("model=bounded_linear",), ["model.low=1"], "model.low=1 is invalid: must be below"),
    (("model=bounded_linear",), ["model.init=2"], "model.init=2 is invalid"),
    (("model=quadratic",), ["model.eigenvalue_bands=[[10,-1,1]]"], "model.eigenvalue_bands="),
    (("model=quadratic",), ["model.eigenvalue_bands=[]"], "model.eigenvalue_bands=[] is"),
    (("model=quadratic",), ["model.hessian_seed=-1"], "model.hessian_seed=-1 is invalid"),
    # trainer
    ((), ["trainer.max_epochs=0"], "trainer.max_epochs=0 is invalid"),
    ((), ["trainer.max_epochs=-2"], "trainer.max_epochs=-2 is invalid"),
    ((), ["trainer.max_epochs=-1"], "trainer.max_epochs=-1 is invalid with max_steps=-1"),
    ((), ["trainer.max_steps=0"], "trainer.max_steps=0 is invalid: must be -1 (no limit)"),
    ((), ["trainer.max_steps=2.5"], "trainer.max_steps=2.5 is invalid"),
    ((), ["trainer.limit_train_batches=0"], "trainer.limit_train_batches=0 is invalid"),
    ((), ["trainer.limit_train_batches=0.0"], "trainer.limit_train_batches=0.0 is invalid"),
    ((), ["trainer.limit_train_batches=1.5"], "trainer.limit_train_batches=1.5 is invalid"),
    ((), ["trainer.limit_val_batches=-1"], "trainer.limit_val_batches=-1 is invalid"),
    ((), ["trainer.limit_val_batches=0"], "trainer.limit_val_batches=0 is invalid with"),
    ((), ["+trainer.limit_test_batches=2.0"], "trainer.limit_test_batches=2.0 is invalid"),
    ((), ["+trainer.val_check_interval=0"], "trainer.val_check_interval=0 is invalid"),
    ((), ["trainer.check_val_every_n_epoch=0"], "trainer.check_val_every_n_epoch=0 is"),
    ((), ["trainer.check_val_every_n_epoch=21"], "trainer.check_val_every_n_epoch=21 is"),
    ((), ["trainer.log_every_n_steps=0"], "trainer.log_every_n_steps=0 is invalid"),
    ((), ["trainer.num_sanity_val_steps=-2"], "trainer.num_sanity_val_steps=-2 is invalid"),
    ((), ["trainer.precision=8"], "trainer.precision=8 is invalid: must be one of"),
    ((), ["trainer.accelerator=quantum"], "trainer.accelerator='quantum' is invalid"),
    ((), ["trainer.devices=0"], "trainer.devices=0 is invalid"),
    ((), ["trainer.devices=[]"], "trainer.devices=[] is invalid"),
    ((), ["+trainer.strategy=ddp_magic"], "trainer.strategy='ddp_magic' is invalid"),
    ((), ["+trainer.num_nodes=0"], "trainer.num_nodes=0 is invalid"),
    ((), ["trainer.deterministic=sometimes"], "trainer.deterministic='sometimes' is"),
    ((), ["trainer.enable_progress_bar=2"], "trainer.enable_progress_bar=2 is invalid"),
    ((), ["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val=-1 is invalid"),
    ((), ["trainer.gradient_clip_val=nan"], "trainer.gradient_clip_val=nan is invalid"),
    # scheduler
    (("scheduler=cosine",), ["scheduler.min_lr_ratio=-1"], "scheduler.min_lr_ratio=-1 is"),
    (("scheduler=cosine",), ["scheduler.min_lr_ratio=1.5"], "scheduler.min_lr_ratio=1.5 is"),
    (("scheduler=cosine",), ["scheduler.warmup_steps=-10"], "scheduler.warmup_steps=-10 is"),
    (("scheduler=cosine",), ["scheduler.warmup_steps=0.5"], "scheduler.warmup_steps=0.5 is"),
    (("scheduler=step",), ["scheduler.step_size=0"], "scheduler.step_size=0 is invalid"),
    (("scheduler=step",), ["scheduler.gamma=0"], "scheduler.gamma=0 is invalid"),
    (("scheduler=step",), ["scheduler.gamma=2"], "scheduler.gamma=2 is invalid"),
    # callbacks (the last checkpoint, the progress bar, optimizer diagnostics)
    ((), ["callbacks.last_checkpoint.every_s=-1"], "callbacks.last_checkpoint.every_s=-1 is"),
    ((), ["callbacks.last_checkpoint.every_s=nan"], "callbacks.last_checkpoint.every_s=nan"),
    ((), ["callbacks.last_checkpoint.dirpath=''"], "callbacks.last_checkpoint.dirpath='' is"),
    ((), ["callbacks.progress_bar.refresh_rate=-1"], "callbacks.progress_bar.refresh_rate=-1"),
    ((), ["callbacks.progress_bar.min_interval_s=-0.1"], "callbacks.progress_bar.min_interval_s"),
    (
        ("callbacks=optim_diagnostics",),
        ["callbacks.optim_diagnostics.every_n_steps=0"],
        "callbacks.optim_diagnostics.every_n_steps=0 is invalid",
    ),
    # logger
    ((), ["logger.csv.flush_logs_every_n_steps=0"], "logger.csv.flush_logs_every_n_steps=0"),
    ((), ["logger.csv.save_dir=''"], "logger.csv.save_dir='' is invalid"),
    ((), ["logger.wandb.project=a/b"], "logger.wandb.project='a/b' is invalid"),
    ((), ["logger.wandb.project=''"], "logger.wandb.project='' is invalid"),
    ((), ["logger.wandb.send_every_s=-5"], "logger.wandb.send_every_s=-5 is invalid"),
    ((), ["logger.wandb.mode=cloud"], "logger.wandb.mode='cloud' is invalid"),
    ((), ["logger.wandb.tags=[1,2]"], "logger.wandb.tags=[1, 2] is invalid"),
    # paths
    ((), ["paths.data_dir=README.md"], "paths.data_dir='README.md' is invalid: must be a folder"),
    ((), ["paths.root_dir=/no/such/folder"], "paths.root_dir='/no/such/folder' is invalid"),
]


@pytest.mark.parametrize(
    ("groups", "overrides", "line"),
    CASES,
    ids=[" ".join([*g, *o]) for g, o, _ in CASES],
)
def test_a_bad_value_is_refused_at_start_up_in_one_line(
    groups: tuple[str, ...],
    overrides: list[str],
    line: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(CONF.parent)  # relative paths (README.md) as from the repository root
    cfg = configured(groups, overrides, tmp_path / "run")
    refused = refused_line(lambda: CheckBeforeStart().on_run_start(cfg), capsys)
    assert refused.startswith(f"error: {line}"), refused
    assert not (tmp_path / "run").exists()


SWEEPER_CASES: list[tuple[list[str], str]] = [
    (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0 is invalid: must be an integer"),
    (["hydra.sweeper.n_trials=abc"], "hydra.sweeper.n_trials='abc' is invalid"),
    (["hydra.sweeper.n_trials=2.5"], "hydra.sweeper.n_trials=2.5 is invalid"),
    (["hydra.sweeper.n_jobs=0"], "hydra.sweeper.n_jobs=0 is invalid"),
    (["hydra.sweeper.n_jobs=-1"], "hydra.sweeper.n_jobs=-1 is invalid"),
    (["hydra.sweeper.seed=-1"], "hydra.sweeper.seed=-1 is invalid"),
    (["hydra.sweeper.max_failure_rate=1.5"], "hydra.sweeper.max_failure_rate=1.5 is invalid"),
    (["hydra.sweeper.max_failure_rate=-0.1"], "hydra.sweeper.max_failure_rate=-0.1 is"),
    (["hydra.sweeper.heartbeat_interval=0"], "hydra.sweeper.heartbeat_interval=0 is invalid"),
    (["hydra.sweeper.grace_period=5"], "hydra.sweeper.grace_period=5 is invalid: must exceed"),
    (["hydra.sweeper.retry_killed=-1"], "hydra.sweeper.retry_killed=-1 is invalid"),
    (["hydra.sweeper.gpus_per_trial=0"], "hydra.sweeper.gpus_per_trial=0 is invalid"),
    (["hydra.sweeper.study_name=''"], "hydra.sweeper.study_name='' is invalid"),
    (["hydra.sweeper.direction=up"], "hydra.sweeper.direction='up' is invalid"),
    (["hydra.sweeper.sampler.n_startup_trials=-1"], "hydra.sweeper.sampler.n_startup_trials=-1"),
    (["hydra.sweeper.sampler.n_ei_candidates=0"], "hydra.sweeper.sampler.n_ei_candidates=0"),
    (["hydra.sweeper.sampler.multivariate=2"], "hydra.sweeper.sampler.multivariate=2 is"),
    (["hydra.sweeper.pruner.interval_steps=0"], "hydra.sweeper.pruner.interval_steps=0 is"),
    (["hydra.sweeper.pruner.n_warmup_steps=-1"], "hydra.sweeper.pruner.n_warmup_steps=-1 is"),
    (["hydra/sweeper/pruner=hyperband", "hydra.sweeper.pruner.reduction_factor=1"], "hydra."),
    (["hydra/sweeper/sampler=qmc", "hydra.sweeper.sampler.qmc_type=grid"], "hydra.sweeper."),
    (["hydra/sweeper/sampler=nsgaii", "hydra.sweeper.sampler.crossover_prob=2"], "hydra."),
]


@pytest.mark.parametrize(
    ("overrides", "line"), SWEEPER_CASES, ids=[" ".join(c[0]) for c in SWEEPER_CASES]
)
def test_a_bad_sweeper_value_is_refused_when_the_sweeper_is_built(
    overrides: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hydra builds the sweeper from `hydra.sweeper` before the sweep folder or the study."""
    choices = tuple(o for o in overrides if o.startswith("hydra/"))
    values = [o for o in overrides if not o.startswith("hydra/")]
    cfg = configured((*SWEEP, *choices), values, Path("unused"))
    refused = refused_line(lambda: instantiate(cfg.hydra.sweeper), capsys)
    assert refused.startswith(f"error: {line}"), refused


SHIPPED = [
    f"{group.name}={path.relative_to(group).with_suffix('')}"
    for group in sorted(CONF.iterdir())
    if group.is_dir() and group.name not in ("hydra", "benchmark")
    for path in sorted(group.rglob("*.yaml"))
    if (group.name, path.stem) not in (("data", "text"), ("data", "tokens"))  # paths: the user's
]


@pytest.mark.parametrize(
    "option",
    [pytest.param(o, marks=pytest.mark.slow) if o.endswith("_full") else o for o in SHIPPED],
)
def test_every_shipped_config_passes_the_start_up_checks(option: str, tmp_path: Path) -> None:
    """The checks refuse what cannot work, never a config the project ships."""
    cfg = configured((option,), [], tmp_path / "run")
    validate(as_job(cfg, str(tmp_path / "run")))
    if option.startswith("hparams_search="):
        check_sweeper(cfg.hydra.sweeper)


# Hypothesis: generated bad values for the numeric fields of every group.
NOT_NUMBERS = st.one_of(
    st.text(max_size=4), st.booleans(), st.lists(st.integers(), max_size=2), st.none()
)
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


def bad_counts(least: int) -> st.SearchStrategy[Any]:
    """Not an integer >= least: smaller integers, fractions, non-numbers, NaN/inf."""
    return st.one_of(
        st.integers(max_value=least - 1),
        st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not v.is_integer()),
        NOT_NUMBERS,
        NON_FINITE,
    )


def bad_fraction(low: float, high: float, low_open: bool, high_open: bool) -> Any:
    """Not a number in the interval: outside it (its open ends included), non-numbers, NaN."""
    below = st.floats(max_value=low, exclude_max=not low_open, allow_nan=False)
    above = st.floats(min_value=high, exclude_min=not high_open, allow_nan=False)
    return st.one_of(below, above, NOT_NUMBERS, st.just(math.nan))


def bad_at_least(low: float, null_ok: bool = False) -> Any:
    below = st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False)
    non_numbers = NOT_NUMBERS.filter(lambda v: v is not None) if null_ok else NOT_NUMBERS
    return st.one_of(below, non_numbers, st.just(math.nan))


def _set(value: Any) -> bool:
    return value is not None


SEEDS = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32), NOT_NUMBERS)
OPEN_UNIT = bad_fraction(0, 1, True, True)

# (group choices, field, bad values)
FIELDS: list[tuple[tuple[str, ...], str, Any]] = [
    ((), "seed", SEEDS),
    ((), "steps_per_batch", bad_counts(1)),
    ((), "check_finite_every_n_steps", bad_counts(1)),
    ((), "divergence_factor", bad_at_least(1, null_ok=True)),
    ((), "optimizer.lr", bad_at_least(0)),
    ((), "optimizer.beta1", bad_fraction(0, 1, False, True)),
    ((), "optimizer.eps", bad_fraction(0, math.inf, True, True)),
    ((), "data.batch_size", bad_counts(1)),
    ((), "data.val_fraction", OPEN_UNIT),
    ((), "data.train_split", OPEN_UNIT),
    ((), "data.num_samples", bad_counts(10)),
    ((), "data.data_seed", SEEDS),
    (("data=modular_arithmetic",), "data.p", bad_counts(2)),
    (("data=modular_arithmetic",), "data.train_fraction", OPEN_UNIT),
    (("data=gaussian_noise",), "data.noise_level", bad_at_least(0)),
    (("data=online_linear",), "data.period", bad_counts(2)),
    (("model=mlp",), "model.width", bad_counts(1)),
    (("model=mlp",), "model.depth", bad_counts(0)),
    ((), "model.kernel_size", bad_counts(1)),
    (("model=transformer",), "model.num_layers", bad_counts(1)),
    (("model=transformer",), "model.dropout", bad_fraction(0, 1, False, True)),
    (("model=lstm",), "model.hidden_size", bad_counts(1)),
    ((), "trainer.max_steps", bad_counts(1).filter(lambda v: v != -1)),
    ((), "trainer.log_every_n_steps", bad_counts(1)),
    ((), "trainer.gradient_clip_val", bad_at_least(0, null_ok=True)),
    ((), "trainer.limit_train_batches", bad_fraction(0, 1, True, False).filter(_set)),
    (("scheduler=cosine",), "scheduler.min_lr_ratio", bad_fraction(0, 1, False, False)),
    (("scheduler=cosine",), "scheduler.warmup_steps", bad_counts(0)),
    (("scheduler=step",), "scheduler.gamma", bad_fraction(0, 1, True, False)),
    ((), "callbacks.last_checkpoint.every_s", bad_at_least(0)),
    ((), "callbacks.progress_bar.min_interval_s", bad_at_least(0)),
    ((), "logger.csv.flush_logs_every_n_steps", bad_counts(1)),
    ((), "logger.wandb.send_every_s", bad_at_least(0)),
]


@pytest.mark.parametrize(("groups", "field", "bad"), FIELDS, ids=[f[1] for f in FIELDS])
def test_generated_bad_numbers_are_refused_naming_the_field(
    groups: tuple[str, ...], field: str, bad: Any, tmp_path: Path
) -> None:
    cfg = as_job(configured(groups, [], tmp_path / "run"), str(tmp_path / "run"))
    run_values = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])

    @PROPERTY
    @given(value=bad)
    def refused(value: Any) -> None:
        job = copy.deepcopy(run_values)
        OmegaConf.update(job, field, value)
        with pytest.raises(ConfigError) as error:
            validate(job)
        assert str(error.value).startswith(f"{field}="), (value, str(error.value))

    refused()


SWEEPER_FIELDS: list[tuple[str, Any]] = [
    ("n_trials", bad_counts(1)),
    ("n_jobs", bad_counts(1).filter(lambda v: v is not None)),
    ("seed", SEEDS.filter(lambda v: v is not None)),
    ("max_failure_rate", bad_fraction(0, 1, False, False)),
    ("heartbeat_interval", bad_counts(1)),
    ("retry_killed", bad_counts(0)),
]


@pytest.mark.parametrize(("field", "bad"), SWEEPER_FIELDS, ids=[f[0] for f in SWEEPER_FIELDS])
def test_generated_bad_sweeper_numbers_are_refused_naming_the_field(field: str, bad: Any) -> None:
    sweeper = OmegaConf.to_container(base(SWEEP).hydra.sweeper, resolve=False)

    @PROPERTY
    @given(value=bad)
    def refused(value: Any) -> None:
        with pytest.raises(ConfigError) as error:
            check_sweeper({**sweeper, field: value})
        assert str(error.value).startswith(f"hydra.sweeper.{field}="), str(error.value)

    refused()


# End to end: the real command, in a fresh process.
def assert_refused(result: Any, line: str, cwd: Path) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {line}"), result.stderr[-2000:]
    assert not (cwd / "outputs").exists() and not (cwd / "multirun").exists()
    assert not (cwd / "run").exists()


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (["data.train_split=0"], "data.train_split=0 is invalid"),
        (["data.val_fraction=0"], "data.val_fraction=0 is invalid"),
        (["trainer.max_steps=0"], "trainer.max_steps=0 is invalid"),
        (["trainer.limit_train_batches=0"], "trainer.limit_train_batches=0 is invalid"),
        (["model=mlp", "model.width=0"], "model.width=0 is invalid"),
        (["scheduler=cosine", "scheduler.min_lr_ratio=-1"], "scheduler.min_lr_ratio=-1 is"),
        (["seed=-1"], "seed=-1 is invalid: must be an integer in [0, 4294967295]"),
        (["seed=4294967296"], "seed=4294967296 is invalid"),
        (["-m", "data.train_split=0", "seed=0,1"], "data.train_split=0 is invalid"),
        (["-m", "optimizer.lr=0.1,-1"], "optimizer.lr=-1 is invalid: must be >= 0 (job #1:"),
    ],
)
def test_the_command_refuses_in_one_line_and_leaves_no_folder(
    overrides: list[str], line: str, tmp_path: Path
) -> None:
    result = run_cli(*overrides, "logger=none", "callbacks=none", cwd=tmp_path)
    assert_refused(result, line, tmp_path)


def test_a_multirun_whose_later_job_cannot_build_its_model_runs_no_job(tmp_path: Path) -> None:
    """What only built objects tell (a model that cannot read the data) is checked for every
    distinct model of the multirun before its first job."""
    result = run_cli("-m", "model=mlp,cnn", "data=modular_arithmetic", cwd=tmp_path)
    assert_refused(result, "model CNN cannot take tokens input", tmp_path)
    assert "(job #1: model=cnn; no job was started)" in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_multirun_on_a_missing_gpu_runs_no_job(tmp_path: Path) -> None:
    result = run_cli("-m", "trainer=gpu", "seed=0,1", "logger=none", cwd=tmp_path)
    assert_refused(result, "trainer.accelerator=gpu needs a CUDA GPU", tmp_path)


@pytest.mark.slow
def test_a_run_refused_once_built_leaves_no_run_folder(tmp_path: Path) -> None:
    """A value only the optimizer itself refuses, checked as the run starts: the run folder
    Hydra made goes, and so does the empty outputs/<date> above it."""
    result = run_cli(*TINY, "optimizer=prodigy", "optimizer.d_coef=-1", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.splitlines() == ["error: optimizer.d_coef=-1 must be >= 0"]
    assert not (tmp_path / "outputs").exists()


def no_study(cwd: Path) -> bool:
    database = cwd / "optuna" / "studies.db"
    if not database.exists():
        return True
    with sqlite3.connect(database) as connection:
        return not connection.execute("select count(*) from studies").fetchone()[0]


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0 is invalid"),
        (["hydra.sweeper.n_trials=abc"], "hydra.sweeper.n_trials='abc' is invalid"),
        (["hydra.sweeper.max_failure_rate=2"], "hydra.sweeper.max_failure_rate=2 is invalid"),
        (["data.train_split=0"], "data.train_split=0 is invalid: must be in (0, 1) (checked"),
        pytest.param(  # a value only Optuna itself refuses, of a pruner given as a class
            [
                "+hydra.sweeper.pruner._target_=optuna.pruners.MedianPruner",
                "hydra.sweeper.pruner.n_startup_trials=-1",
            ],
            "hydra.sweeper.pruner: Number of startup trials cannot be negative",
            marks=pytest.mark.slow,  # the first trial's data and model are built first
        ),
    ],
)
def test_an_optuna_sweep_refuses_in_one_line_before_any_folder_or_study(
    overrides: list[str], line: str, tmp_path: Path
) -> None:
    result = run_cli("-m", *SWEEP, *overrides, "logger=none", cwd=tmp_path)
    assert_refused(result, line, tmp_path)
    assert no_study(tmp_path)
