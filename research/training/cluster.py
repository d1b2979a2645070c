"""Which cluster a run is in, said to Lightning, and resuming a requeued SLURM job.

Lightning probes for SLURM on every run and, where `srun` is installed but did not start the
run, warns each time ("The `srun` command is available on your system but is not used"). A
run outside any cluster launcher names its environment instead, and since Lightning still
probes once more when it looks for an HPC checkpoint to resume, that one hint is silenced too;
inside a launcher (srun, as submitit starts jobs, torchrun, LSF, MPI) Lightning detects it as
before.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from lightning_fabric.plugins.environments import (
    ClusterEnvironment,
    LightningEnvironment,
    LSFEnvironment,
    MPIEnvironment,
    TorchElasticEnvironment,
)
from lightning_fabric.plugins.environments.slurm import _is_srun_used

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
SRUN_HINT = "The `srun` command is available on your system but is not used"


def cluster_plugins() -> list[ClusterEnvironment]:
    """[] to let Lightning detect a cluster launcher; else the plain local environment."""
    detected = _is_srun_used() or any(
        env.detect() for env in (TorchElasticEnvironment, LSFEnvironment, MPIEnvironment)
    )
    if detected:
        return []
    warnings.filterwarnings("ignore", message=f"{SRUN_HINT}.*")
    return [LightningEnvironment()]


def requeued_checkpoint(output_dir: Path) -> str | None:
    """A SLURM job requeued after preemption (`--requeue`, submitit's checkpointing) runs the
    same command in the same folder: it continues from its own last checkpoint."""
    if int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) < 1:
        return None
    last = output_dir / LAST_CHECKPOINT
    return str(last) if last.is_file() else None
