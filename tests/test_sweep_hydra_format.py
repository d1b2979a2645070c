"""Search configs in the format of Hydra's Optuna sweeper plugin run unchanged (a
multi-objective one too), and a config error every trial would hit stops the sweep before its
first trial (exit 2, storage untouched)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.conftest import run_cli
from tests.test_sweep_e2e import ENV, output, run_results, sweep_results

FORMAT_DIR = Path(__file__).parent / "hydra_optuna_format"
TINY = ("data=digits", "model=mlp", "trainer.max_epochs=1", "logger=csv", "callbacks=none",
        "test=false")  # fmt: skip


def test_a_hydra_plugin_search_file_runs_unchanged(tmp_path: Path) -> None:
    proc = run_cli(f"--config-dir={FORMAT_DIR}", "hparams_search=hydra_plugin_style", *TINY,
                   cwd=tmp_path, env=ENV, timeout=300)  # fmt: skip
    assert proc.returncode == 0, output(proc)
    # study_name: null -> the hparams_search choice; storage: null -> the default file
    study = optuna.load_study(
        study_name="hydra_plugin_style", storage=f"sqlite:///{tmp_path}/optuna/studies.db"
    )
    assert len(study.trials) == 3  # the MedianPruner node may prune the last one
    assert {t.state for t in study.trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert study.trials[0].state == TrialState.COMPLETE
    assert set(study.trials[0].params) == {"optimizer.lr", "model.width", "trainer.max_epochs"}
    for trial in study.trials:  # the custom space's value reached the run
        if trial.state == TrialState.COMPLETE:
            results = json.loads(
                (Path(trial.user_attrs["output_dir"]) / "results.json").read_text()
            )
            assert results["epochs"] == trial.params["trainer.max_epochs"]


def test_a_hydra_plugin_multi_objective_file_runs_unchanged(tmp_path: Path) -> None:
    proc = run_cli(f"--config-dir={FORMAT_DIR}", "hparams_search=hydra_plugin_multi_objective",
                   *TINY, cwd=tmp_path, env=ENV, timeout=300)  # fmt: skip
    assert proc.returncode == 0, output(proc)
    study = optuna.load_study(
        study_name="hydra_plugin_multi_objective",
        storage=f"sqlite:///{tmp_path}/optuna/studies.db",
    )
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    for trial in study.trials:
        final = run_results(trial)["final"]
        assert trial.values == [final["val/acc"], final["train/loss_epoch"]]
        assert all(math.isfinite(v) for v in trial.values)
    # Hydra's plugin writes the Pareto front as `solutions`, each with its params and values
    solutions = sweep_results(study)["solutions"]
    assert sorted(s["number"] for s in solutions) == sorted(t.number for t in study.best_trials)
    assert all(set(s) >= {"params", "values"} for s in solutions)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ("optimized_metric=[val/acc,val/loss,train/loss_epoch]",),
            "error: hydra.sweeper.direction=[maximize, minimize] has 2 direction(s) but "
            "optimized_metric=[val/acc, val/loss, train/loss_epoch] names 3 metric(s): give one "
            "direction per metric",
        ),
        (
            ("optimized_metric=[val/acc,val/loss]", "hydra/sweeper/pruner=median"),
            "error: hydra.sweeper.pruner=median cannot prune a search with 2 directions "
            "(Optuna prunes single-objective studies only): use hydra/sweeper/pruner=none",
        ),
    ],
)
def test_directions_that_cannot_work_stop_before_the_first_trial(
    tmp_path: Path, overrides: tuple[str, ...], message: str
) -> None:
    proc = run_cli("-m", "hydra/sweeper=optuna", "hydra.sweeper.direction=[maximize,minimize]",
                   "optimizer.lr=interval(1e-4,1e-1)", *TINY, *overrides, cwd=tmp_path,
                   env=ENV, timeout=120)  # fmt: skip
    assert proc.returncode == 2, output(proc)
    assert proc.stderr.strip().splitlines()[-1].startswith(message), output(proc)
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "optuna" / "studies.db").exists()


def test_a_config_error_every_trial_would_hit_stops_before_the_first_trial(
    tmp_path: Path,
) -> None:
    proc = run_cli("-m", "hparams_search=adam_betas_lr", *TINY, "+data.num_samples=100",
                   cwd=tmp_path, env=ENV, timeout=120)  # fmt: skip
    assert proc.returncode == 2, output(proc)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: data.num_samples is not an argument of"), output(proc)
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "optuna" / "studies.db").exists()


@pytest.mark.slow
def test_a_model_that_cannot_read_the_data_stops_before_the_first_trial(tmp_path: Path) -> None:
    proc = run_cli("-m", "hparams_search=adam_betas_lr", *TINY, "model=cnn",
                   "data=modular_arithmetic", cwd=tmp_path, env=ENV, timeout=120)  # fmt: skip
    assert proc.returncode == 2, output(proc)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: model CNN cannot take tokens input"), output(proc)
    assert not (tmp_path / "optuna" / "studies.db").exists()


def test_shipped_searches_run_with_another_dataset(tmp_path: Path) -> None:
    proc = run_cli("-m", "hparams_search=adam_betas_lr", *TINY, "hydra.sweeper.n_trials=1",
                   cwd=tmp_path, env=ENV, timeout=300)  # fmt: skip
    assert proc.returncode == 0, output(proc)
