"""Sweeps on a real one-node SLURM cluster through submitit (started by scripts/services.sh):
`scancel` of one job of an array loses only that trial, which runs again from its checkpoint,
and the trial that completed keeps its value."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from research.sweep.counts import FAIL_KIND, count_trials
from research.sweep.retry import RESUME_FROM, RETRY_OF
from tests.cluster_services import fresh_database, postgres, slurm  # noqa: F401
from tests.conftest import sigint_as_a_terminal_sends_it
from tests.test_sweep_e2e import BASE, ENV, load_study

pytestmark = pytest.mark.timeout(600)
# The README's SLURM commands run with the default loggers (CSV and W&B): so do these tests.
# SLURM's SIGTERM reaches W&B's service process too, which must not turn a lost trial into a
# counted failure.
DEFAULT_LOGGERS = tuple(o for o in BASE if o != "logger=csv")
SLURM = ("hydra/launcher=submitit_slurm", "hydra.launcher.partition=debug",
         "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=10",
         "callbacks=default", "callbacks.last_checkpoint.every_s=0",  # a checkpoint every epoch
         "trainer.enable_progress_bar=false")  # fmt: skip


def squeue(env: dict[str, str]) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True,
                         env={**os.environ, **env}, check=True).stdout  # fmt: skip
    return out.split()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_scancel_of_one_array_job_loses_only_its_trial_which_resumes(
    tmp_path: Path,
    slurm: dict[str, str],
) -> None:
    env = {**os.environ, **ENV, **slurm}
    sweep = subprocess.Popen(
        [sys.executable, "-m", "research.train", "-m", *DEFAULT_LOGGERS, *SLURM,
         "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2", "trainer.max_epochs=40",
         "optimizer.lr=choice(0.01,0.003)", "hydra.sweeper.sampler.n_startup_trials=0"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # Trial 1 (array task 1) has written a checkpoint: cancel its job mid-run.
        checkpoint = wait_for(
            lambda: next(tmp_path.glob("multirun/*/*/trial_1/checkpoints/last.ckpt"), None), 240,
            "trial 1's first checkpoint",
        )  # fmt: skip
        job = wait_for(lambda: next((j for j in squeue(slurm) if j.endswith("_1")), None), 30,
                       "job")  # fmt: skip
        subprocess.run(["scancel", job], env=env, check=True)
        out = sweep.communicate(timeout=400)[0]
    finally:
        sweep.kill()
    assert sweep.returncode == 0, out[-4000:]

    study = load_study(tmp_path)
    by_number = {t.number: t for t in study.trials}
    first, cancelled, retry = by_number[0], by_number[1], by_number[2]
    assert first.state == TrialState.COMPLETE and first.value is not None
    results = json.loads((Path(first.user_attrs["output_dir"]) / "results.json").read_text())
    assert results["status"] == "completed"
    assert first.value == pytest.approx(results["optimized_value"])
    assert cancelled.state == TrialState.FAIL and cancelled.user_attrs[FAIL_KIND] == "lost"
    assert retry.state == TrialState.COMPLETE
    assert retry.params == cancelled.params and retry.user_attrs[RETRY_OF] == 1
    assert retry.user_attrs[RESUME_FROM] == str(checkpoint)
    assert len(study.trials) == 3
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 2
    assert optuna.load_study  # the study is readable by any Optuna client


def scontrol(env: dict[str, str], *args: str) -> None:
    subprocess.run(["scontrol", *args], env={**os.environ, **env}, check=True)


@pytest.mark.slow
def test_a_requeued_job_resumes_its_trial_from_its_last_checkpoint(
    tmp_path: Path,
    slurm: dict[str, str],
) -> None:
    """Preemption with requeue, as `scontrol requeue` does it: the run is interrupted, the same
    job runs again in the same folder, continues from its checkpoint, and its trial counts once."""
    env = {**os.environ, **ENV, **slurm}
    sweep = subprocess.Popen(
        [sys.executable, "-m", "research.train", "-m", *DEFAULT_LOGGERS, *SLURM,
         "hydra.sweeper.n_trials=1", "trainer.max_epochs=60"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        first = "multirun/*/*/trial_0/checkpoints/last.ckpt"
        wait_for(lambda: next(tmp_path.glob(first), None), 240, "trial 0's first checkpoint")
        job = wait_for(lambda: next(iter(squeue(slurm)), None), 30, "job")
        scontrol(slurm, "requeue", job)
        # SLURM holds a requeued job back for two minutes; a test need not wait for that.
        wait_for(lambda: "PENDING" in squeue(slurm), 60, "the job back in the queue")
        scontrol(slurm, "update", f"jobid={job}", "StartTime=now")
        out = sweep.communicate(timeout=400)[0]
    finally:
        sweep.kill()
    assert sweep.returncode == 0, out[-4000:]
    assert "was requeued" in out
    (trial,) = load_study(tmp_path).trials
    assert trial.state == TrialState.COMPLETE
    run_dir = Path(trial.user_attrs["output_dir"])
    results = json.loads((run_dir / "results.json").read_text())
    assert (results["status"], results["epochs"]) == ("completed", 60)
    assert "Resuming from " in (run_dir / "train.log").read_text()


@pytest.mark.slow
def test_k_workers_as_a_slurm_array_one_killed_by_sigterm(
    tmp_path: Path,
    slurm: dict[str, str],
    postgres: dict[str, str],
) -> None:
    """The README's K-worker pattern: an sbatch array of sweep processes on one PostgreSQL
    study. SIGTERM (scancel) to one worker mid-trial: that trial does not count, its point runs
    again in the other worker from its checkpoint, and the study ends with exactly n_trials."""
    url = fresh_database(postgres)
    password = url.split(":")[2].split("@")[0]
    storage = url.replace(f":{password}@", "@")  # the password comes from PGPASSWORD
    command = " ".join([sys.executable, "-m", "research.train", "-m", *(f"'{a}'" for a in BASE),
                        f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=3",
                        "hydra.sweeper.heartbeat_interval=2", "hydra.sweeper.grace_period=6",
                        "trainer.max_epochs=400", "callbacks=default",
                        "callbacks.last_checkpoint.every_s=1",
                        "trainer.enable_progress_bar=false"])  # fmt: skip
    env = {**os.environ, **ENV, **slurm, "PGPASSWORD": password}
    out = subprocess.run(
        ["sbatch", "--parsable", "--array=1-2", f"--chdir={tmp_path}",
         f"--output={tmp_path}/worker-%a.log", "--wrap", command],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    array = out.strip().split(";")[0]

    def training() -> set[Path]:
        """Trial folders with a checkpoint (written every second) and no results.json yet: with
        trials of 100 epochs, over in 4 s, a worker could finish before the scancel came."""
        started = {p.parents[1] for p in tmp_path.glob("multirun/*/*/*/checkpoints/last.ckpt")}
        return {folder for folder in started if not (folder / "results.json").exists()}

    wait_for(lambda: len(training()) >= 2, 240, "both workers training")
    subprocess.run(["scancel", f"{array}_1"], env=env, check=True)
    wait_for(lambda: not any(j.startswith(f"{array}_") for j in squeue(slurm)), 400,
             "both workers to end")  # fmt: skip

    study = optuna.load_study(study_name="t", storage=url)
    counts = count_trials(study.trials)
    assert (counts.counted, counts.complete, counts.running) == (3, 3, 0), study.trials
    lost = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(lost) == 1 and lost[0].user_attrs.get(FAIL_KIND) in (None, "interrupted")
    (retry,) = [t for t in study.trials if t.user_attrs.get(RETRY_OF) == lost[0].number]
    assert retry.state == TrialState.COMPLETE and retry.params == lost[0].params


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_sweep_cancels_its_jobs_counts_nothing_and_resumes(
    tmp_path: Path, slurm: dict[str, str], signum: int
) -> None:
    """Ctrl-C, or SIGTERM (a sweep that is itself a SLURM job, preempted): one line, the jobs
    cancelled, and the same command again completes the study with no counted failure."""
    env = {**os.environ, **ENV, **slurm}
    command = [sys.executable, "-m", "research.train", "-m", *DEFAULT_LOGGERS, *SLURM,
               "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2",
               "trainer.max_epochs=30"]  # fmt: skip
    sweep = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=sigint_as_a_terminal_sends_it)  # fmt: skip
    try:
        wait_for(lambda: len(list(tmp_path.glob("multirun/*/*/*/checkpoints/last.ckpt"))) == 2,
                 240, "both trials training")  # fmt: skip
        sweep.send_signal(signum)
        err = sweep.communicate(timeout=120)[1]
    finally:
        sweep.kill()
    assert sweep.returncode == 128 + signum, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            f"error: interrupted by {signal.Signals(signum).name}: the sweep stopped its 2 running"
        )
    )
    wait_for(lambda: not squeue(slurm), 60, "the jobs cancelled")
    trials = load_study(tmp_path).trials
    assert [t.state for t in trials] == [TrialState.FAIL] * 2
    assert {t.user_attrs[FAIL_KIND] for t in trials} == {"interrupted"}

    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=400)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    counts = count_trials(load_study(tmp_path).trials)
    assert (counts.counted, counts.complete, counts.failed) == (2, 2, 0)
