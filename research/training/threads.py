"""How many intra-op threads a run gives torch.

torch starts one OpenMP thread per core. When other processes already keep some of those
cores busy (parallel trials, DDP ranks, a neighbour's job on a shared node or laptop), every
parallel region waits for a thread that is not scheduled, and a small model's run takes many
times longer (`scripts/bench_threads.py` measures it). So by default a run takes the cores that
are free when it starts, measured on the CPUs it may use.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 0.2
PROC_STAT = Path("/proc/stat")


def _cpu_times(cpus: set[int]) -> tuple[int, int]:
    """(busy, total) jiffies summed over `cpus`, from /proc/stat's per-CPU lines."""
    busy = total = 0
    for line in PROC_STAT.read_text().splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        times = [int(v) for v in fields]
        idle = times[3] + times[4]  # idle and iowait
        busy += sum(times[:8]) - idle  # guest time is already counted in user time
        total += sum(times[:8])
    return busy, total


def busy_cores(cpus: set[int], seconds: float = SAMPLE_SECONDS) -> float:
    """How many of `cpus` other processes kept busy over the last `seconds` (this one sleeps)."""
    busy_before, total_before = _cpu_times(cpus)
    time.sleep(seconds)
    busy_after, total_after = _cpu_times(cpus)
    elapsed = total_after - total_before
    return len(cpus) * (busy_after - busy_before) / elapsed if elapsed else 0.0


def free_cores() -> tuple[int, float]:
    """(cores free for this run, cores busy) on the CPUs this process may run on."""
    cpus = os.sched_getaffinity(0)
    busy = busy_cores(cpus) if PROC_STAT.exists() else 0.0
    return max(1, len(cpus) - round(busy)), busy


def set_torch_threads(requested: int | None) -> None:
    """`requested` threads, or (null) torch's default capped at the free cores, said in one
    line when the cap applies. OMP_NUM_THREADS in the environment is the user's choice too."""
    if requested is not None:
        torch.set_num_threads(requested)
        return
    if os.environ.get("OMP_NUM_THREADS"):
        return
    default = torch.get_num_threads()
    free, busy = free_cores()
    if free < default:
        torch.set_num_threads(free)
        log.info(
            "torch threads: %d, not %d: %.1f of this machine's cores are busy with other "
            "processes (set torch_threads to choose)",
            free, default, busy,
        )  # fmt: skip
