"""Real sweeps through `python -m research.train -m hydra/sweeper=optuna`, checked in the storage.

Each test runs in its own folder: the default storage (`<cwd>/optuna/studies.db`) and sweep
folders (`<cwd>/multirun/...`) land there. Tiny runs: digits, a 32-unit MLP, 3 epochs.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.exc import SQLAlchemyError

from research.sweep.counts import count_trials
from research.sweep.folders import NO_FOLDER
from tests.conftest import REPO, run_cli, wandb_records

STUDY = "t"
BASE = (
    "hydra/sweeper=optuna",
    f"hydra.sweeper.study_name={STUDY}",
    "data=digits",
    "model=mlp",
    "model.width=32",
    "trainer.max_epochs=3",
    "logger=csv",
    "callbacks=none",
    "optimizer=torch_adam",
    "test=false",
    "optimizer.lr=tag(log,interval(1e-4,1e-1))",
)
# The working folder is the test's: the plugin is found through the path, as if installed.
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def sweep(cwd: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    return run_cli("-m", *BASE, *overrides, cwd=cwd, env=ENV, timeout=300)


def start_sweep(cwd: Path, *overrides: str) -> subprocess.Popen[bytes]:
    """The sweep in the background, in its own process group so a test can signal all of it."""
    return subprocess.Popen(
        [sys.executable, "-m", "research.train", "-m", *BASE, *overrides],
        cwd=cwd,
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def load_study(cwd: Path, name: str = STUDY) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{cwd}/optuna/studies.db")


def run_results(trial: FrozenTrial) -> dict[str, Any]:
    return json.loads((Path(trial.user_attrs["output_dir"]) / "results.json").read_text())


def sweep_results(study: optuna.Study) -> dict[str, Any]:
    sweep_dir = Path(study.user_attrs["sweep_dir"])
    return yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"


def test_trials_report_every_epoch_prune_fail_and_resume(tmp_path: Path) -> None:
    proc = sweep(
        tmp_path,
        "hydra.sweeper.n_trials=4",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        # good, hopeless (pruned after one epoch), diverging (NaN loss at step 2)
        "hydra.sweeper.enqueue=[{optimizer.lr:1e-2},{optimizer.lr:1e-6},{optimizer.lr:1e30}]",
    )
    assert proc.returncode == 0, output(proc)
    study = load_study(tmp_path)
    good, hopeless, diverged, sampled = study.trials

    assert good.state == TrialState.COMPLETE and good.params == {"optimizer.lr": 1e-2}
    assert sorted(good.intermediate_values) == [0, 1, 2], "one report per epoch"
    assert good.value == good.intermediate_values[2] == run_results(good)["final"]["val/acc"]

    assert hopeless.state == TrialState.PRUNED and hopeless.params == {"optimizer.lr": 1e-6}
    assert list(hopeless.intermediate_values) == [0], "stopped after the epoch it was pruned"
    assert hopeless.value == hopeless.intermediate_values[0]
    assert run_results(hopeless)["status"] == "pruned"
    assert run_results(hopeless)["epochs"] == 1

    assert diverged.state == TrialState.FAIL
    assert diverged.user_attrs["fail_kind"] == "diverged"
    assert "nan" in diverged.user_attrs["fail_reason"]
    assert run_results(diverged)["status"] == "diverged"
    assert run_results(diverged)["global_step"] < 5, "stopped at the first NaN"

    assert sampled.state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert 1e-4 <= sampled.params["optimizer.lr"] <= 1e-1

    summary = sweep_results(study)
    assert summary["trials"]["failed"] == 1
    assert summary["trials"]["complete"] + summary["trials"]["pruned"] == 3
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value)
    assert summary["best_value"] == best.value
    assert summary["best_params"] == best.params

    # The same command with a larger budget continues the study; enqueued points don't repeat.
    again = sweep(
        tmp_path, "hydra.sweeper.n_trials=5", "hydra.sweeper.enqueue=[{optimizer.lr:1e-2}]"
    )
    assert again.returncode == 0, output(again)
    study = load_study(tmp_path)
    assert len(study.trials) == 5
    assert [t.params["optimizer.lr"] for t in study.trials].count(1e-2) == 1
    assert Path(study.user_attrs["sweep_dir"]) != Path(summary["best_trial"]["output_dir"]).parent
    for trial in study.trials:  # named as the study numbers them, in either sweep
        assert Path(trial.user_attrs["output_dir"]).name == f"trial_{trial.number}"

    # Once more: the study holds its 5 trials, nothing runs and no sweep folder is made.
    folders = sorted((tmp_path / "multirun").glob("*/*"))
    done = sweep(tmp_path, "hydra.sweeper.n_trials=5")
    assert done.returncode == 0, output(done)
    assert sorted((tmp_path / "multirun").glob("*/*")) == folders
    assert NO_FOLDER in output(done) and len(load_study(tmp_path).trials) == 5
    assert load_study(tmp_path).user_attrs["sweep_dir"] == study.user_attrs["sweep_dir"]


def test_failures_are_recorded_until_the_failure_rate_is_exceeded(tmp_path: Path) -> None:
    proc = sweep(
        tmp_path,
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.max_failure_rate=0.5",
        "hydra/sweeper/sampler=grid",
        "optimizer.lr=0.001",  # the grid takes choices only
        # The first point (width 32, the one pre-flight checks) works; the run's start-up check
        # refuses the other three. (A config error every point hits stops before any trial.)
        "model.width=choice(32,-5,-6,-7)",
    )
    assert proc.returncode != 0, "a sweep that failed too often must say so"
    assert "max_failure_rate" in output(proc)
    study = load_study(tmp_path)
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(failed) == 3, "2 of 4 allowed, stops at 3"
    for trial in failed:
        assert trial.user_attrs["fail_kind"] == "error"
        assert "is invalid: must be an integer >= 1" in trial.user_attrs["fail_reason"]
    assert sweep_results(study)["trials"]["failed"] == 3


def test_a_multi_objective_sweep_records_each_value_and_the_pareto_front(tmp_path: Path) -> None:
    proc = sweep(
        tmp_path,
        "hydra.sweeper.n_trials=3",
        "trainer.max_epochs=1",
        "optimized_metric=[val/acc,val/loss]",
        "hydra.sweeper.direction=[maximize,minimize]",
        "logger=wandb",
    )
    assert proc.returncode == 0, output(proc)
    study = load_study(tmp_path)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    for trial in study.trials:
        results = run_results(trial)
        assert len(trial.values) == 2 and all(math.isfinite(v) for v in trial.values)
        assert results["optimized_metric"] == ["val/acc", "val/loss"]
        assert trial.values == results["optimized_value"]
        assert trial.values == [results["final"]["val/acc"], results["final"]["val/loss"]]
        assert not trial.intermediate_values, "trial.report takes one objective: none reported"

    summary = sweep_results(study)
    assert summary["directions"] == ["maximize", "minimize"]
    assert summary["optimized_metric"] == ["val/acc", "val/loss"]
    front = sorted(t.number for t in study.best_trials)
    assert sorted(s["number"] for s in summary["solutions"]) == front
    for solution in summary["solutions"]:
        trial = study.trials[solution["number"]]
        assert solution["values"] == trial.values and solution["params"] == trial.params
    printed = " ".join(proc.stdout.split())  # the table's title wraps
    assert f"Pareto front: {len(front)} trial(s)" in printed
    assert "┃ trial ┃ val/acc ┃ val/loss ┃ optimizer.lr ┃" in printed, "a column per metric"
    (summary_file,) = Path(study.user_attrs["sweep_dir"]).glob("wandb/offline-run-*/run-*.wandb")
    wandb_solutions = merged_wandb_run(summary_file)["summary"]["solutions"]
    assert sorted(s["number"] for s in wandb_solutions) == front

    # The same study with one direction: refused in one line, the study left as it was.
    again = sweep(tmp_path, "hydra.sweeper.n_trials=4")
    assert again.returncode == 2, output(again)
    assert again.stderr.strip().splitlines()[-1] == (
        f"error: study {STUDY} exists with direction [maximize, minimize], not maximize"
    )
    assert len(load_study(tmp_path).trials) == 3


def wait_for_a_reporting_trial(cwd: Path, timeout: float) -> FrozenTrial:
    """The first RUNNING trial that has reported an epoch: the sweep is mid-training."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (cwd / "optuna" / "studies.db").exists():
            try:
                trials = load_study(cwd).trials
            except (KeyError, SQLAlchemyError):  # the study or its tables are being created
                trials = []
            for trial in trials:
                if trial.state == TrialState.RUNNING and trial.intermediate_values:
                    return trial
        time.sleep(0.1)
    raise TimeoutError("no trial started training")


def test_a_killed_sweep_resumes_and_its_trial_is_failed_not_running(tmp_path: Path) -> None:
    overrides = (
        "hydra.sweeper.n_trials=3",
        "trainer.max_epochs=40",  # long enough (~1 s) for the poll to find it mid-training
        "hydra.sweeper.heartbeat_interval=1",
        "hydra.sweeper.grace_period=2",
    )
    first = start_sweep(tmp_path, *overrides)
    try:
        killed = wait_for_a_reporting_trial(tmp_path, timeout=120)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()

    proc = sweep(tmp_path, *overrides)
    assert proc.returncode == 0, output(proc)
    study = load_study(tmp_path)
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states
    assert states.count(TrialState.COMPLETE) == 3, "killed trials don't count toward n_trials"
    after = study.trials[killed.number]
    assert after.state == TrialState.FAIL and "fail_kind" not in after.user_attrs
    retried = [t for t in study.trials if t.number > killed.number and t.params == killed.params]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE, "its point runs again"
    assert sweep_results(study)["trials"]["lost"] == 1


def test_ctrl_c_stops_the_sweep_and_the_trial_is_lost_not_failed(tmp_path: Path) -> None:
    first = start_sweep(tmp_path, "trainer.max_epochs=300")
    try:
        running = wait_for_a_reporting_trial(tmp_path, timeout=120)
        os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert first.wait(timeout=60) != 0
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    study = load_study(tmp_path)
    assert len(study.trials) == 1, "no trial started after the interrupt"
    trial = study.trials[running.number]
    assert trial.state == TrialState.FAIL and trial.user_attrs["fail_kind"] == "interrupted"
    assert run_results(trial)["status"] == "failed" and "SIGINT" in run_results(trial)["reason"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_sweep_says_one_line_and_the_same_command_completes_it(
    tmp_path: Path, signum: int
) -> None:
    """SIGTERM is what a sweep that is itself a SLURM job gets on preemption; SIGINT is Ctrl-C
    (to the sweep process alone here: a terminal would also signal the trial's run)."""
    overrides = ["hydra.sweeper.n_trials=2", "trainer.max_epochs=40"]
    first = subprocess.Popen(
        [sys.executable, "-m", "research.train", "-m", *BASE, *overrides],
        cwd=tmp_path, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_a_reporting_trial(tmp_path, timeout=120)
        first.send_signal(signum)
        _, stderr = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 128 + signum, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    name = signal.Signals(signum).name
    assert last == (
        f"error: interrupted by {name}: the sweep stopped its 1 running trial(s) (cancelled, "
        "not counted); run the same command again to resume: they run again, from their last "
        "checkpoints"
    )
    (stopped,) = load_study(tmp_path).trials
    assert stopped.user_attrs["fail_kind"] == "interrupted"

    again = sweep(tmp_path, *overrides)
    assert again.returncode == 0, output(again)
    counts = count_trials(load_study(tmp_path).trials)
    assert (counts.counted, counts.complete, counts.failed) == (2, 2, 0)


def test_plugin_is_registered_without_importing_heavy_packages(tmp_path: Path) -> None:
    code = (
        "import runpy, sys\n"
        "sys.argv = ['research.train', '--hydra-help', 'hydra/sweeper=optuna']\n"
        "try:\n    runpy.run_module('research.train', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('torch', 'optuna', 'wandb') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, **ENV},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "HEAVY []" in proc.stdout, output(proc)
    assert "hydra/sweeper: basic, optuna" in proc.stdout
    assert "hydra/sweeper/sampler: cmaes, gp, grid, nsgaii, qmc, random, tpe" in proc.stdout
    assert "hydra/sweeper/pruner: hyperband, median, none, successive_halving" in proc.stdout


@pytest.mark.slow
def test_ddp_trials_run_once_per_point_and_prune_on_every_rank(tmp_path: Path) -> None:
    proc = sweep(
        tmp_path,
        "trainer=ddp_cpu",
        "hydra.sweeper.n_trials=2",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        "hydra.sweeper.enqueue=[{optimizer.lr:1e-2},{optimizer.lr:1e-6}]",
    )
    assert proc.returncode == 0, output(proc)
    study = load_study(tmp_path)
    good, hopeless = study.trials  # and no third trial started by a relaunched rank
    assert good.state == TrialState.COMPLETE and sorted(good.intermediate_values) == [0, 1, 2]
    assert hopeless.state == TrialState.PRUNED and list(hopeless.intermediate_values) == [0]
    for trial in study.trials:
        assert run_results(trial)["config"]["trainer"]["strategy"] == "ddp"
    rank1_log = Path(hopeless.user_attrs["output_dir"]) / "train_ddp_process_1.log"
    assert "Run pruned" in rank1_log.read_text(), "rank 1 ran in the trial's folder and stopped"
    sweeps = list((tmp_path / "multirun").glob("*/*"))
    assert len(sweeps) == 1, f"rank 1 must not start a sweep of its own: {sweeps}"
    assert sorted(p.name for p in sweeps[0].iterdir() if p.is_dir()) == ["trial_0", "trial_1"]


@pytest.mark.slow
def test_parallel_trials_overlap_with_the_joblib_launcher(tmp_path: Path) -> None:
    proc = sweep(
        tmp_path,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",  # and the sweeper's n_jobs follows it
        "hydra.sweeper.n_trials=4",
        "trainer.max_epochs=4",
    )
    assert proc.returncode == 0, output(proc)
    study = load_study(tmp_path)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    first, second = trials[0], trials[1]
    assert second.datetime_start < first.datetime_complete, "the batch ran at the same time"
    assert len({t.user_attrs["output_dir"] for t in trials}) == 4


@pytest.mark.slow
def test_two_sweeps_on_one_study_share_the_work(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "research.train", "-m", *BASE, "hydra.sweeper.n_trials=6"]
    procs = [
        subprocess.Popen(
            command,
            cwd=tmp_path,
            env={**os.environ, **ENV},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(log[-3000:] for log in logs)
    study = load_study(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6, "none lost, none extra"
    sweep_dirs = {Path(t.user_attrs["output_dir"]).parent for t in study.trials}
    assert len(sweep_dirs) == 2, "both processes ran trials"


def merged_wandb_run(run_file: Path) -> dict[str, Any]:
    """An offline W&B run read back: its run record, merged config and merged summary."""
    merged: dict[str, Any] = {"config": {}, "summary": {}}
    for record in wandb_records(run_file.parent):
        if record["type"] == "run":
            merged["run"] = record["run"]
        elif record["type"] in ("config", "summary"):
            merged[record["type"]].update(record[record["type"]]["update"])
    return merged


def test_each_trial_is_a_wandb_run_grouped_by_study(tmp_path: Path) -> None:
    proc = sweep(tmp_path, "logger=wandb", "hydra.sweeper.n_trials=2", "trainer.max_epochs=1")
    assert proc.returncode == 0, output(proc)
    study = load_study(tmp_path)
    for trial in study.trials:
        (run_file,) = Path(trial.user_attrs["output_dir"]).glob("wandb/offline-run-*/run-*.wandb")
        run = merged_wandb_run(run_file)
        assert run["run"]["display_name"] == f"trial-{trial.number}"
        assert run["run"]["run_group"] == STUDY
        assert run["config"]["optimizer"]["lr"] == trial.params["optimizer.lr"]
        assert run["config"]["trial"]["number"] == trial.number
    (summary_file,) = Path(study.user_attrs["sweep_dir"]).glob("wandb/offline-run-*/run-*.wandb")
    summary = merged_wandb_run(summary_file)
    assert summary["run"]["display_name"] == f"study-{STUDY}"
    assert summary["run"]["run_group"] == STUDY
    assert summary["summary"]["best_value"] == study.best_value
    assert summary["summary"]["trials/complete"] == 2


APP = """
import hydra
from hydra.core.config_store import ConfigStore

ConfigStore.instance().store(name="app", node={"optimized_metric": "objective", "trial": None,
                                               "x": 0.0})


@hydra.main(version_base="1.3", config_path=None, config_name="app")
def main(cfg):
    return (cfg.x - 0.3) ** 2


main()
"""


def test_another_apps_study_is_named_after_its_job(tmp_path: Path) -> None:
    """An app without the project's task_name, swept with no study_name, gets Hydra's job name
    (it failed with "Key 'task_name' is not in struct")."""
    (tmp_path / "my_app.py").write_text(APP)
    result = subprocess.run(
        [sys.executable, "my_app.py", "-m", "hydra/sweeper=optuna",
         "hydra/sweeper/sampler=random", "hydra.sweeper.direction=minimize",
         "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage=sqlite:///{tmp_path}/s.db",
         "x=interval(-1,1)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    study = optuna.load_study(study_name="my_app", storage=f"sqlite:///{tmp_path}/s.db")
    assert len(study.trials) == 2
