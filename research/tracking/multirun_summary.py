"""A multirun ends with one table of its jobs (the Optuna sweeper prints its own leaderboard)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from research.tracking.results import RESULTS_FILE
from research.tracking.run_summary import jobs_table


def _job_order(folder: Path) -> tuple[int, str]:
    return (int(folder.name), "") if folder.name.isdigit() else (1 << 30, folder.name)


def _read(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / RESULTS_FILE).read_text())
    except (OSError, ValueError):
        return None


class MultirunSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if "BasicSweeper" not in str(config.hydra.sweeper.get("_target_", "")):
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = sorted((p.parent for p in sweep_dir.glob("*/.hydra")), key=_job_order)
        if jobs:
            print(jobs_table([(job, _read(job)) for job in jobs]), flush=True)
