"""Trials as submitit jobs (`hydra/launcher=submitit_slurm|submitit_local`), one verdict each.

hydra-submitit-launcher's own `launch` returns `[job.results()[0] for job in jobs]`: one
cancelled job raises for the whole batch, and the trials that completed are lost with it. Here
the batch is submitted the same way (one SLURM array, the launcher's resources), and every job
is awaited on its own: a job that ends without a result (scancel, preemption without requeue,
node failure) becomes a `JobLost` for its trial only. A requeued job (`--requeue`, submitit's
checkpoint on preemption) is awaited until its rerun ends.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra.plugins.launcher import Launcher
from omegaconf import OmegaConf

from research.training.signals import interruption_in

log = logging.getLogger(__name__)

POLL_S = 1.0
GONE_AFTER_S = 20.0  # a job SLURM no longer runs, with no result after this long, is lost
REQUEUE_WAIT_S = 120.0  # how long an interrupted job may take to leave the node
REQUEUED_STATES = ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED")
RUNNING_STATES = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "RESIZING",
                  "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED", "PREEMPTED", "SIGNALING",
                  "STAGE_OUT")  # fmt: skip


class _WithoutSacctNoise(logging.Filter):
    """submitit warns at every poll on clusters without accounting; squeue answers instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Bypassing sacct error" not in record.getMessage()


class JobLost(RuntimeError):
    """The job ended without returning (cancelled, killed, preempted): not the trial's fault."""


def is_submitit(launcher: Launcher) -> bool:
    return type(launcher).__module__.startswith("hydra_plugins.hydra_submitit_launcher")


def launch_each(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> list[JobReturn | BaseException]:
    """Each job's JobReturn, or the exception that stands for it (`JobLost`, or the error a
    job raised outside the run). Ctrl-C cancels the jobs still running."""
    jobs = _submit(launcher, job_overrides, initial_job_idx)
    try:
        return [_await(job) for job in jobs]
    except BaseException:
        for job in jobs:
            if not job.done():
                job.cancel(check=False)
        raise


def _submit(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list:
    """The job array, built as hydra-submitit-launcher builds it."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    submitit_log = logging.getLogger("submitit")
    if not any(isinstance(f, _WithoutSacctNoise) for f in submitit_log.filters):
        submitit_log.addFilter(_WithoutSacctNoise())

    params = dict(launcher.params)
    init_keys = {"submitit_folder", "max_num_timeout"}
    executor = submitit.AutoExecutor(
        cluster=launcher._EXECUTOR,
        folder=params["submitit_folder"],
        **{f"{launcher._EXECUTOR}_max_num_timeout": params["max_num_timeout"]}
        if "max_num_timeout" in params
        else {},
    )
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(
        **{
            (key if key in base else f"{launcher._EXECUTOR}_{key}"): value
            for key, value in params.items()
            if key not in init_keys
        }
    )
    Path(str(launcher.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    arguments = []
    for offset, overrides in enumerate(job_overrides):
        idx = initial_job_idx + offset
        log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
        arguments.append(
            (list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state())
        )
    return executor.map_array(launcher, *zip(*arguments, strict=True))


def _await(job: Any) -> JobReturn | BaseException:
    """The job's verdict; a run interrupted because SLURM requeued its job is not one: the
    rerun's is awaited instead."""
    while True:
        verdict = _await_once(job)
        if not (_interrupted(verdict) and _requeued(job)):
            return verdict
        log.info("Job %s was requeued: waiting for its rerun", job.job_id)
        job.paths.result_pickle.unlink(missing_ok=True)


def _interrupted(verdict: JobReturn | BaseException) -> bool:
    return (
        isinstance(verdict, JobReturn)
        and verdict.status == JobStatus.FAILED
        and interruption_in(verdict._return_value) is not None
    )


def _requeued(job: Any) -> bool:
    """Whether SLURM put the job back in the queue (preemption with requeue, `scontrol
    requeue`): watched until the interrupted run has left the node."""
    if type(job).__name__ != "SlurmJob":
        return False
    deadline = time.monotonic() + REQUEUE_WAIT_S
    while time.monotonic() < deadline:
        state, restarts = _scontrol_state(job)
        if restarts > 0 or state in REQUEUED_STATES:
            return True
        if state not in ("RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT"):
            return False
        time.sleep(POLL_S)
    return False


def _scontrol_state(job: Any) -> tuple[str, int]:
    try:
        command = ["scontrol", "show", "job", "-o", str(job.job_id)]
        out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "GONE", 0
    state = re.search(r"JobState=(\w+)", out.stdout)
    restarts = re.search(r"Restarts=(\d+)", out.stdout)
    return (state.group(1) if state else "GONE"), int(restarts.group(1)) if restarts else 0


def _await_once(job: Any) -> JobReturn | BaseException:
    gone_since: float | None = None
    while not job.done():
        if _finished_without_result(job):
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since > GONE_AFTER_S:
                return JobLost(f"job {job.job_id} ended without a result ({_state(job)})")
        else:
            gone_since = None
        time.sleep(POLL_S)
    try:
        return job.results()[0]
    except Exception as error:
        return _classify(job, error)


def _classify(job: Any, error: Exception) -> BaseException:
    from submitit.core.utils import FailedJobError, UncompletedJobError

    if isinstance(error, FailedJobError):  # the job's own code raised: a real failure
        return error
    if isinstance(error, UncompletedJobError):
        return JobLost(f"job {job.job_id} ended without a result ({_state(job)})")
    return error


def _finished_without_result(job: Any) -> bool:
    """SLURM says the job is over (or has forgotten it): sacct may be unavailable (clusters
    without accounting), so squeue is asked as well."""
    if job.paths.result_pickle.exists():
        return False
    if not hasattr(job, "watcher") or type(job).__name__ != "SlurmJob":
        return False
    return _state(job) not in RUNNING_STATES


def _state(job: Any) -> str:
    if type(job).__name__ != "SlurmJob":
        return str(job.state)
    try:
        out = subprocess.run(
            ["squeue", "-h", "-j", str(job.job_id), "-o", "%T"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "RUNNING"  # cannot tell: keep waiting
    state = out.stdout.strip().split("\n")[0] if out.returncode == 0 else ""
    return state or "GONE"
