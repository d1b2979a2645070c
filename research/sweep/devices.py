"""GPUs for parallel trials: trial slot k of a batch gets its own `trainer.devices` list.

Indices rather than CUDA_VISIBLE_DEVICES, because a launcher's worker process is reused by
later trials after CUDA is initialised; a DDP trial relaunches its ranks with the same list.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

GPU_ACCELERATORS = ("gpu", "cuda", "auto")


def gpu_slots(n_gpus: int, n_jobs: int, per_trial: int | None) -> list[list[int]]:
    """The GPU indices of each of the n_jobs slots; slots share GPUs only when there are
    too few (with a warning)."""
    per_trial = per_trial or max(1, n_gpus // n_jobs)
    if per_trial * n_jobs > n_gpus:
        log.warning(
            "%d parallel trials x %d GPU(s) each > %d visible GPUs: some trials share a GPU",
            n_jobs, per_trial, n_gpus,
        )  # fmt: skip
    return [[(slot * per_trial + k) % n_gpus for k in range(per_trial)] for slot in range(n_jobs)]


def visible_gpus(accelerator: str | None) -> int:
    if accelerator not in GPU_ACCELERATORS:
        return 0
    import torch

    return torch.cuda.device_count()


def devices_override(devices: list[int]) -> str:
    return f"trainer.devices=[{','.join(map(str, devices))}]"
