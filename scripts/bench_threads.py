"""The default run's wall time on a quiet machine and beside busy processes, per thread setting.

Each case runs the README's first command (`python -m research.train`, default config and
loggers) from start to exit, in a fresh process without OMP_NUM_THREADS. "Busy" cases start
`--busy` processes that spin on a core each (a neighbour's job, another trial) before the run
and stop them after. Thread settings: one thread, torch's default (one per core),
torch's default with OpenMP's passive wait policy, and the run's default (`torch_threads`
null: the cores free when the run starts). A case that passes `--limit` seconds is stopped
and shown as "> limit". Ratios are against one thread on the quiet machine, measured in the
same invocation.

    python scripts/bench_threads.py [--busy 1] [--limit 300] [--markdown]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from tempfile import TemporaryDirectory

from measured import add_option, write


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for spinner in spinners:
        spinner.start()
    time.sleep(1.0)  # they are running before the run looks at the machine
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.join()


def torch_default_threads() -> int:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    code = "import torch; print(torch.get_num_threads())"
    return int(subprocess.check_output([sys.executable, "-c", code], env=env, text=True))


def run_seconds(overrides: list[str], env_extra: dict[str, str], limit: float) -> float | None:
    """Wall seconds of one default run, or None when it passed `limit` and was stopped."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", **env_extra)
    with TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "research.train", f"hydra.run.dir={folder}/run",
                   *overrides]  # fmt: skip
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=folder, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            _, stderr = process.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return None
        if process.returncode:
            sys.exit(f"error: the run failed ({' '.join(command)}):\n{stderr[-2000:]}")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=1, help="spinning processes beside a run")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds before a case stops")
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    add_option(parser, "bench_threads")
    args = parser.parse_args()
    cores, default = len(os.sched_getaffinity(0)), torch_default_threads()
    print(f"{cores} usable cores, torch's default {default} threads, busy cases: {args.busy} "
          f"spinning processes; the default run (CNN on MNIST-1D, Adam, W&B offline)")  # fmt: skip
    cases = [
        ("quiet", "1 thread (torch_threads=1)", ["torch_threads=1"], {}),
        ("quiet", f"torch's default ({default} threads)", [f"torch_threads={default}"], {}),
        ("quiet", "the run's default (free cores)", [], {}),
        ("busy", "1 thread (torch_threads=1)", ["torch_threads=1"], {}),
        ("busy", f"torch's default ({default} threads)", [f"torch_threads={default}"], {}),
        (
            "busy",
            "torch's default, OMP_WAIT_POLICY=PASSIVE",
            [f"torch_threads={default}"],
            {"OMP_WAIT_POLICY": "PASSIVE"},
        ),
        ("busy", "the run's default (free cores)", [], {}),
    ]
    baseline = None
    lines = [
        f"{cores} usable cores; busy: {args.busy} other process(es) spinning on a core each",
        "",
        "| machine | threads | wall s | vs quiet, 1 thread |",
        "|---|---|---:|---:|",
    ]
    print("\n".join(lines[2:]))
    for machine, label, overrides, env_extra in cases:
        with busy_cores(args.busy if machine == "busy" else 0):
            seconds = run_seconds([*args.overrides, *overrides], env_extra, args.limit)
        baseline = baseline or seconds
        shown = f"{seconds:.1f}" if seconds else f"> {args.limit:.0f}"
        if not baseline:
            sys.exit(f"error: the quiet one-thread run passed --limit {args.limit:.0f} s")
        ratio = f"{seconds / baseline:.2f}x" if seconds else f"> {args.limit / baseline:.0f}x"
        lines.append(f"| {machine} | {label} | {shown} | {ratio} |")
        print(lines[-1], flush=True)
    write(args.markdown, lines)


if __name__ == "__main__":
    main()
