"""Faults injected into real runs, sweeps, a real PostgreSQL server and a real one-node SLURM
cluster, and whether the promised outcome held: the table of the README's Reliability section.

Each fault is a group of the suite's own fault tests: every test case injects the fault for
real (a signal, a cancelled or requeued SLURM job, a database restart, a damaged file, a full
file system, a bad value) and asserts what the README promises. This script runs each group
`--repeat` times, slow tests included, and prints one row per fault: the cases tried (test
cases run, times repeats) and how many held (passed). Needs root for the services and the
small file system: `scripts/services.sh start all` first, or `--services` to start and stop
them here.

    python scripts/fault_injection.py [--repeat 1] [--only NAME ...] [--services]
                                      [--markdown [PATH]]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from measured import add_option, write  # scripts/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Fault:
    name: str
    what: str  # the fault injected
    promise: str  # the outcome that must hold
    tests: tuple[str, ...]  # pytest node ids or files, with -k expressions after "::-k "


FAULTS = (
    Fault(
        "run_sigterm_wandb",
        "SIGTERM to a run and to its W&B service (what scancel does)",
        "recorded as interrupted (not an error), checkpoint kept, no traceback",
        (
            "tests/test_resume_guard.py::test_sigterm_to_the_run_and_its_wandb_service_is_an_interruption",
            "tests/test_reliability.py::test_signal_ends_the_run_as_failed_with_its_record",
        ),
    ),
    Fault(
        "slurm_scancel",
        "scancel of one trial's SLURM job, default loggers",
        "trial lost (not counted), retried from its checkpoint; the other keeps its value",
        (
            "tests/test_cluster_slurm.py::test_scancel_of_one_array_job_loses_only_its_trial_which_resumes",
        ),
    ),
    Fault(
        "slurm_requeue",
        "scontrol requeue of a trial's job, default loggers",
        "the job resumes in its folder from its checkpoint; the trial counts once, all epochs",
        (
            "tests/test_cluster_slurm.py::test_a_requeued_job_resumes_its_trial_from_its_last_checkpoint",
        ),
    ),
    Fault(
        "slurm_worker_sigterm",
        "SIGTERM to one of K sweep workers (a SLURM array)",
        "its trial does not count and runs again; the study ends exact",
        ("tests/test_cluster_slurm.py::test_k_workers_as_a_slurm_array_one_killed_by_sigterm",),
    ),
    Fault(
        "sweep_stopped",
        "SIGINT / SIGTERM to the sweep process (in-process and SLURM jobs)",
        "one line, jobs cancelled, nothing counted; the same command completes the study",
        (
            "tests/test_sweep_e2e.py::test_a_stopped_sweep_says_one_line_and_the_same_command_completes_it",
            "tests/test_cluster_slurm.py::test_a_stopped_sweep_cancels_its_jobs_counts_nothing_and_resumes",
        ),
    ),
    Fault(
        "sweep_killed",
        "kill -9 of a sweep on SQLite",
        "its trial is failed as lost, not counted, and runs again; the study ends exact",
        ("tests/test_sweep_e2e.py::-k killed",),
    ),
    Fault(
        "orphan_finished",
        "a lost trial whose run finished anyway",
        "its result is recorded, not retried into an error",
        ("tests/test_sweep_finished_orphans.py",),
    ),
    Fault(
        "benchmark_stopped",
        "SIGINT / SIGTERM / kill -9 of the benchmark",
        "one line, no trial left RUNNING; the same command resumes without repeating trials",
        ("tests/test_benchmark.py::-k killed or interrupted_benchmark",),
    ),
    Fault(
        "postgres_restart",
        "PostgreSQL restarted (8 s) mid-sweep; a connection cut mid-write; a locked SQLite file",
        "waited for and reconnected, one line each; no trial counted as failed; exact count",
        ("tests/test_sweep_outage.py",),
    ),
    Fault(
        "study_experiment",
        "a sweep of another experiment (dataset, seed, epochs) on an existing study",
        "refused in one line naming the difference and a study name; nothing written",
        ("tests/test_sweep_study_experiment.py",),
    ),
    Fault(
        "bad_values",
        "bad or nonsense values of every config group and of the sweeper",
        "one line naming the field, exit 2, no run folder, sweep folder or study",
        ("tests/test_bad_input.py",),
    ),
    Fault(
        "damaged_files",
        "damaged run files (results.json, metrics.csv, config) and unfinished sweeps, reported",
        "listed as unreadable with the reason; the rest and the index are reported",
        ("tests/test_report_e2e.py::-k damaged or nothing_to_report",),
    ),
    Fault(
        "resume_refused",
        "resume with other settings or a truncated checkpoint",
        "one line, exit 2, every file of the run unchanged",
        ("tests/test_resume_guard.py::-k cannot_work or unreadable",),
    ),
    Fault(
        "resume_as_printed",
        "the resume command a stopped run prints, pasted",
        "the run continues with its own config and completes",
        ("tests/test_resume_guard.py::-k printed",),
    ),
    Fault(
        "disk",
        "a full file system mid-run; a read-only run or sweep folder",
        "one line naming the file and the OS error; last checkpoint and metrics kept",
        ("tests/test_disk_faults.py",),
    ),
)


def selection(test: str) -> list[str]:
    path, _, rest = test.partition("::")
    if rest.startswith("-k "):
        return [path, "-k", rest.removeprefix("-k ")]
    return [test]


def run(fault: Fault, repeat: int, failed: list[str]) -> tuple[int, int, int]:
    """(cases run, cases held, cases skipped) over `repeat` runs of the fault's tests; the
    cases that did not hold are added to `failed`."""
    tried = held = skipped = 0
    for _ in range(repeat):
        for test in fault.tests:
            with tempfile.TemporaryDirectory() as tmp:
                report = Path(tmp) / "junit.xml"
                subprocess.run(
                    [sys.executable, "-m", "pytest", "-m", "", "-q", "-p", "no:cacheprovider",
                     f"--junitxml={report}", *selection(test)],
                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False,
                )  # fmt: skip
                cases = ET.parse(report).getroot().iter("testcase") if report.exists() else []
                for case in cases:
                    if case.find("skipped") is not None:
                        skipped += 1
                        continue
                    tried += 1
                    if case.find("failure") is None and case.find("error") is None:
                        held += 1
                    else:
                        failed.append(f"{case.get('classname')}::{case.get('name')}")
    return tried, held, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each fault's tests")
    parser.add_argument("--only", nargs="*", choices=[f.name for f in FAULTS])
    parser.add_argument("--services", action="store_true", help="start and stop the services")
    add_option(parser, "fault_injection")
    args = parser.parse_args()
    services = ROOT / "scripts" / "services.sh"
    if args.services:
        subprocess.run([str(services), "start", "all"], check=True, stdout=subprocess.DEVNULL)
    os.environ["RESEARCH_REQUIRE_SERVICES"] = "1"
    lines = [
        "| fault injected | outcome that must hold | cases tried | held |",
        "|---|---|---|---|",
    ]
    failed: list[str] = []
    try:
        for fault in FAULTS:
            if args.only and fault.name not in args.only:
                continue
            tried, held, skipped = run(fault, args.repeat, failed)
            note = f" ({skipped} skipped)" if skipped else ""
            lines.append(f"| {fault.what} | {fault.promise} | {tried}{note} | {held} |")
            print(lines[-1], flush=True)
    finally:
        if args.services:
            subprocess.run([str(services), "stop", "all"], check=False)
    table = "\n".join(lines)
    print(f"\n{table}")
    if failed:
        print("\ncases that did not hold (rerun one with pytest -m '' to see why):")
        print("\n".join(f"  {name}" for name in failed))
    write(args.markdown, lines)


if __name__ == "__main__":
    main()
