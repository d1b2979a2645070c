"""Where an Optuna sweep writes. Each trial's folder is named by Optuna's trial number
(`trial_<n>`), so a folder matches its trial in the study and the leaderboard, also when a
resumed sweep or a second one on the same study runs it (Hydra's job index restarts at 0 in
every process). The sweep folder is made only when a trial is about to run in it, so a sweep
that runs none (its study already finished, or other sweeps ran the rest) leaves no folder.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from omegaconf import DictConfig, OmegaConf

JOB_NUMBER = "${hydra.job.num}"  # Hydra's default subdir, and conf/hydra/default.yaml's
SWEEP_DIR_ATTR = "sweep_dir"  # the study's user attribute: the last sweep folder of its trials
NO_FOLDER = "no trial ran in this sweep: no sweep folder made"  # where its results would be


def trial_subdir(config: DictConfig, number: int) -> list[str]:
    """The override that names trial `number`'s folder, unless the config chose its own
    `hydra.sweep.subdir` (the benchmark's `trial_${trial.number}`, say)."""
    sweep = OmegaConf.to_container(config.hydra.sweep, resolve=False)
    chosen = sweep.get("subdir") if isinstance(sweep, dict) else None
    return [f"hydra.sweep.subdir=trial_{number}"] if chosen == JOB_NUMBER else []


class SweepFolder:
    """The sweep folder and its `multirun.yaml`, made when the first trial is launched."""

    def __init__(self, path: Path, config: DictConfig) -> None:
        self.path = path
        self.config = config
        self.made = False

    def make(self, study: optuna.Study) -> None:
        if self.made:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, self.path / "multirun.yaml")
        study.set_user_attr(SWEEP_DIR_ATTR, str(self.path))
        self.made = True

    def exists(self) -> bool:
        """Made here, or by an earlier sweep given the same `hydra.sweep.dir`."""
        return self.path.is_dir()
