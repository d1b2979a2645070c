"""Sweeps on a real one-node SLURM cluster through submitit (started by scripts/services.sh):
`scancel` of one job of an array loses only that trial, which runs again from its checkpoint,
and the trial that completed keeps its value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from research.sweep.counts import FAIL_KIND
from research.sweep.retry import RESUME_FROM, RETRY_OF
from tests.cluster_services import slurm  # noqa: F401
from tests.test_sweep_e2e import BASE, ENV, load_study

pytestmark = pytest.mark.timeout(600)
SLURM = ("hydra/launcher=submitit_slurm", "hydra.launcher.partition=debug",
         "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=10",
         "callbacks=default", "trainer.enable_progress_bar=false")  # fmt: skip


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
    slurm: dict[str, str],  # noqa: F811
) -> None:
    env = {**os.environ, **ENV, **slurm}
    sweep = subprocess.Popen(
        [sys.executable, "-m", "research.train", "-m", *BASE, *SLURM,
         "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2", "trainer.max_epochs=40",
         "optimizer.lr=choice(0.01,0.003)", "hydra.sweeper.sampler.n_startup_trials=0"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # Trial 1 (array task 1) has written a checkpoint: cancel its job mid-run.
        checkpoint = wait_for(
            lambda: next(tmp_path.glob("multirun/*/*/1/checkpoints/last.ckpt"), None), 240,
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
