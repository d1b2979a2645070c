"""The cluster helpers on their own: URL masking and checks, the legacy search-space form,
Hydra-style sampler nodes, directions (one, or a list for a multi-objective search) and the
one-line errors around them, Lightning's cluster environment, requeue resume, and the usage of
scripts/services.sh (which starts nothing to print it)."""

from __future__ import annotations

import math
import pickle
import shutil
import signal
import subprocess
import warnings
from pathlib import Path

import optuna
import pytest
from lightning_fabric.plugins.environments import LightningEnvironment, SLURMEnvironment

from research.config.checks import check_optimized_metric
from research.config.errors import ConfigError
from research.sweep.credentials import hide
from research.sweep.factories import check_several_objectives, make_pruner, make_sampler
from research.sweep.legacy_space import legacy_params
from research.sweep.outcome import objective_values
from research.sweep.preflight import check_objectives
from research.sweep.space import parse_search_space
from research.sweep.storage import masked, parse_url, password_of
from research.sweep.sweeper import _directions
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
    assert _directions("minimize") == ["minimize"]
    assert _directions(["maximize"]) == ["maximize"]
    assert _directions(["maximize", "minimize"]) == ["maximize", "minimize"]
    with pytest.raises(ConfigError, match="'up' is invalid: maximize or minimize"):
        _directions(["maximize", "up"])


def test_each_direction_needs_its_metric() -> None:
    check_objectives("val/acc", ["maximize"])
    check_objectives(["val/acc", "val/loss"], ["maximize", "minimize"])
    check_objectives(["val/acc"], ["maximize"])  # a list of one: the run returns [value]
    with pytest.raises(ConfigError) as error:  # a list of directions, one metric
        check_objectives("val/acc", ["maximize", "minimize"])
    assert str(error.value).startswith(
        "hydra.sweeper.direction=[maximize, minimize] has 2 direction(s) but "
        "optimized_metric=val/acc names 1 metric(s): give one direction per metric"
    )
    with pytest.raises(ConfigError, match=r"=maximize has 1 direction\(s\) but optimized_metric="
                       r"\[val/acc, val/loss\] names 2"):  # fmt: skip
        check_objectives(["val/acc", "val/loss"], ["maximize"])
    with pytest.raises(ConfigError, match=r"names 3 metric"):
        check_objectives(["val/acc", "val/loss", "train/loss"], ["maximize", "minimize"])


def test_every_metric_of_a_list_is_checked() -> None:
    check_optimized_metric(["val/acc", "train/loss_epoch"])
    with pytest.raises(ConfigError, match="'train/loss' is invalid: must be an epoch metric"):
        check_optimized_metric(["val/acc", "train/loss"])
    with pytest.raises(ConfigError, match=r"optimized_metric=\[val/acc, val/f1\]: 'val/f1' is"):
        check_optimized_metric(["val/acc", "val/f1"])
    with pytest.raises(ConfigError, match="optimized_metric='val/f1' is invalid"):
        check_optimized_metric("val/f1")
    with pytest.raises(ConfigError, match="name at least one metric"):
        check_optimized_metric([])


def test_several_directions_refuse_a_pruner_and_cmaes_in_one_line() -> None:
    two = ["maximize", "minimize"]
    check_several_objectives(two, {"name": "tpe"}, {"name": "none"})
    check_several_objectives(two, {"_target_": "optuna.samplers.NSGAIISampler"}, None)
    check_several_objectives(["maximize"], {"name": "cmaes"}, {"name": "median"})  # one: fine
    for pruner in ({"name": "median"}, {"_target_": "optuna.pruners.HyperbandPruner"}):
        with pytest.raises(ConfigError) as error:
            check_several_objectives(two, None, pruner)
        message = str(error.value)
        assert "cannot prune a search with 2 directions" in message and "\n" not in message
        assert message.endswith("use hydra/sweeper/pruner=none")
    with pytest.raises(ConfigError) as error:
        check_several_objectives(two, {"name": "cmaes"}, None)
    assert str(error.value) == (
        "hydra.sweeper.sampler=cmaes cannot search 2 directions (it takes one objective): "
        "use one of tpe, random, qmc, gp, grid, nsgaii"
    )


def test_each_returned_value_must_be_finite() -> None:
    assert objective_values(0.5, 1) == ((0.5,), "")
    assert objective_values([0.5], 1) == ((0.5,), "")
    assert objective_values((0.9, 0.3), 2) == ((0.9, 0.3), "")
    values, reason = objective_values([0.9, math.nan], 2)
    assert values is None and reason.endswith("not a finite optimized_metric value (value 2 of 2)")
    values, reason = objective_values([None, 0.3], 2)  # a metric the run never logged
    assert values is None and "(value 1 of 2)" in reason
    values, reason = objective_values(0.9, 2)
    assert values is None and "1 value(s) for 2 direction(s)" in reason
    assert objective_values(math.inf, 1)[1] == (
        "the run returned inf, not a finite optimized_metric value"
    )


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


SERVICES = Path(__file__).resolve().parents[1] / "scripts" / "services.sh"


def test_services_script_help_exits_0_and_a_mistake_is_one_line() -> None:
    done = subprocess.run(["bash", SERVICES, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
    for action in ("start", "stop", "env", "status"):
        assert f"scripts/services.sh {action}" in done.stdout
    assert "RESEARCH_PG_PASSWORD" in done.stdout and "#" not in done.stdout
    wrong = subprocess.run(["bash", SERVICES, "stat", "all"], capture_output=True, text=True)
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr == "error: unknown action 'stat': choose start, stop, env or status\n"
