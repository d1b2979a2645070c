"""A CSV logger whose metrics.csv survives a resume.

Lightning's CSVLogger deletes an existing metrics.csv as soon as its folder holds any file
(and warns about it on every new run, whose folder already holds Hydra's files). Here the
file is kept: a resumed run appends to the rows its checkpoint covers, and a run started from
scratch in an old folder starts a new file.
"""

from __future__ import annotations

import csv
import os
from typing import Any

from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter


class _ContinuingWriter(ExperimentWriter):
    def __init__(self, log_dir: str, keep_rows_before_step: int | None) -> None:
        self._keep_before = keep_rows_before_step
        super().__init__(log_dir=log_dir)

    def _check_log_dir_exists(self) -> None:
        """Keep the rows of the steps a resumed run does not redo; drop the rest."""
        if not os.path.isfile(self.metrics_file_path):
            return
        rows: list[dict[str, Any]] = []
        if self._keep_before is not None:
            with open(self.metrics_file_path, newline="") as file:
                reader = csv.DictReader(file)
                self.metrics_keys = list(reader.fieldnames or [])
                rows = [row for row in reader if int(row["step"]) < self._keep_before]
        if not rows:
            os.remove(self.metrics_file_path)
            self.metrics_keys = []
            return
        with open(self.metrics_file_path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(rows)


class ContinuingCSVLogger(CSVLogger):
    """`metrics.csv` keeps the rows of the steps before `resume_from_step` (None: a new run)."""

    resume_from_step: int | None = None

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(self.log_dir, self.resume_from_step)
        return self._experiment
