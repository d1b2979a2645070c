"""The cluster helpers on their own: URL masking and checks, the legacy search-space form,
Hydra-style sampler nodes, directions, Lightning's cluster environment, requeue resume."""

from __future__ import annotations

import pickle
import shutil
import signal
import warnings
from pathlib import Path

import optuna
import pytest
from lightning_fabric.plugins.environments import LightningEnvironment, SLURMEnvironment

from research.config.errors import ConfigError
from research.sweep.credentials import hide
from research.sweep.factories import make_pruner, make_sampler
from research.sweep.legacy_space import legacy_params
from research.sweep.space import parse_search_space
from research.sweep.storage import masked, parse_url, password_of
from research.sweep.sweeper import _single_direction
from research.training.cluster import cluster_plugins, requeued_checkpoint
from research.training.signals import RunInterrupted


def test_run_interrupted_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(RunInterrupted(signal.SIGTERM)))
    assert (error.signum, str(error)) == (signal.SIGTERM, "interrupted by SIGTERM")


def test_the_password_is_masked_and_bad_urls_are_one_line() -> None:
    assert masked("postgresql://me:s3cret@db/optuna") == "postgresql://me:***@db/optuna"
    assert masked("sqlite:///x.db") == "sqlite:///x.db"
    parse_url("sqlite:////tmp/x.db")
    assert parse_url("journal:///tmp/studies.log") == Path("/tmp/studies.log")
    for url, expected in (
        ("journal:///no/such/folder/studies.log", "no folder /no/such/folder"),
        ("not a url", "is not a storage URL"),
        ("nosuch://me@db/x", "use sqlite:///"),
    ):
        with pytest.raises(ConfigError, match=expected):
            parse_url(url)


def test_a_password_is_hidden_as_typed_and_decoded() -> None:
    url = "postgresql://me:p%40ss%2Fw@db/optuna"
    assert password_of(url) == "p@ss/w"
    assert hide(f"hydra.sweeper.storage={url}", password_of(url)) == (
        "hydra.sweeper.storage=postgresql://me:***@db/optuna"
    )
    assert hide("user p@ss/w", "p@ss/w") == "user ***"


def test_the_legacy_search_space_form_becomes_sweep_syntax() -> None:
    params = legacy_params(
        {
            "optimizer.lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
            "model.width": {"type": "int", "low": 32, "high": 96, "step": 32},
            "optimizer": {"type": "categorical", "choices": ["adam", "sgd"]},
        }
    )
    space = parse_search_space(params)
    distributions = space.distributions
    assert distributions["optimizer.lr"].log
    assert (distributions["model.width"].low, distributions["model.width"].high) == (32, 96)
    assert distributions["optimizer"].choices == ("adam", "sgd")


def test_samplers_and_pruners_as_hydra_target_nodes() -> None:
    space = parse_search_space({"x": "interval(0, 1)"})
    spec = {"_target_": "optuna.samplers.RandomSampler", "seed": 123, "name": "tpe",
            "n_startup_trials": 3}  # fmt: skip  # merged into the default tpe node
    sampler = make_sampler(spec, space, seed=None)
    assert isinstance(sampler, optuna.samplers.RandomSampler)
    pruner = make_pruner({"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 1})
    assert isinstance(pruner, optuna.pruners.MedianPruner)
    with pytest.raises(ConfigError, match="unknown sampler"):
        make_sampler({"name": "nope"}, space, seed=None)


def test_direction_as_hydra_takes_it() -> None:
    assert _single_direction("minimize") == "minimize"
    assert _single_direction(["maximize"]) == "maximize"
    with pytest.raises(ConfigError, match="one direction"):
        _single_direction(["maximize", "minimize"])


@pytest.mark.skipif(shutil.which("srun") is None, reason="Lightning's hint needs srun on PATH")
def test_no_srun_hint_outside_a_slurm_step(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLURM_NTASKS", "SLURM_JOB_NAME", "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [type(p) for p in cluster_plugins()] == [LightningEnvironment]
        SLURMEnvironment.detect()  # Lightning probes again when it looks for an HPC checkpoint
    assert not [w for w in caught if "srun" in str(w.message)]


def test_a_requeued_slurm_job_resumes_from_its_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    last.write_bytes(b"")
    monkeypatch.delenv("SLURM_RESTART_COUNT", raising=False)
    assert requeued_checkpoint(tmp_path) is None
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert requeued_checkpoint(tmp_path) == str(last)
