"""Read what a run left on disk into one `Run`: results.json first, metrics.csv for per-step
curves, `.hydra/config.yaml` when the run never finished.

Speed matters (hundreds of runs of thousands of steps): metrics.csv is split by the csv module
and converted column-wise by numpy, and only the columns the report needs are converted.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from research.report.discover import HYDRA_CONFIG, RESULTS, RunRef

METRICS_CSV = "metrics.csv"
NOT_METRICS = {"epoch", "step"}
# Outcomes in the order a reader cares about; only `completed` runs enter the statistics.
STATUSES = ("completed", "pruned", "diverged", "failed", "unfinished", "missing")


@dataclass(frozen=True)
class Series:
    """One metric over training: x in optimizer steps completed and in (1-based) epochs."""

    steps: np.ndarray
    epochs: np.ndarray
    values: np.ndarray


@dataclass
class Run:
    ref: RunRef
    status: str
    reason: str | None
    config: dict[str, Any]
    seed: int | None
    final: dict[str, float | None]
    best: dict[str, float | None]
    per_epoch: dict[str, Series]
    per_step: dict[str, Series]
    metric_names: frozenset[str]
    global_step: int | None = None
    wall_time_s: float | None = None
    wandb_ids: tuple[str, ...] = field(default_factory=tuple)
    git_commit: str | None = None
    versions: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Run({self.name!r}, {self.status})"

    @property
    def path(self) -> Path | None:
        return self.ref.path

    @property
    def name(self) -> str:
        """A short, unique-enough label: the last folders of the path, or the trial number."""
        if self.path is None:
            return f"trial {self.ref.trial}"
        return "/".join(self.path.parts[-3:])

    def series(self, metric: str, by: str = "steps") -> Series | None:
        """The canonical curve of a metric: the per-epoch record of results.json when it has
        the metric (its steps are exact), else the per-step log; along steps, the per-step
        log when it has more points (a run that validates every few hundred steps)."""
        epochs, steps = self.per_epoch.get(metric), self.per_step.get(metric)
        denser = steps is not None and (epochs is None or steps.values.size > epochs.values.size)
        return steps if by == "steps" and denser else epochs or steps

    def value(self, metric: str, which: str = "final") -> float | None:
        value = (self.final if which == "final" else self.best).get(metric)
        return None if value is None or not math.isfinite(value) else float(value)


def history_series(history: Sequence[dict[str, Any]]) -> dict[str, Series]:
    """results.json `history` (one record per epoch) as one Series per metric."""
    names = {k for record in history for k in record} - NOT_METRICS
    series = {}
    for name in names:
        rows = [r for r in history if r.get(name) is not None]
        series[name] = Series(
            steps=np.array([r["step"] for r in rows], dtype=float),
            epochs=np.array([r["epoch"] + 1 for r in rows], dtype=float),
            values=np.array([r[name] for r in rows], dtype=float),
        )
    return series


def read_metrics_csv(path: Path, wanted: Iterable[str]) -> tuple[list[str], dict[str, Series]]:
    """The header and the wanted columns of a Lightning CSVLogger file.

    Lightning writes train and validation rows at `step = global_step - 1` (the step in
    progress); adding 1 gives optimizer steps completed, as in results.json's history.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return [], {}
    first, _, body = text.partition("\n")
    header = next(csv.reader([first]), [])
    if "step" not in header or not body.strip():
        return header, {}
    table = parse_numbers(body, len(header))
    steps = table[:, header.index("step")] + 1.0
    epochs = table[:, header.index("epoch")] + 1.0 if "epoch" in header else np.zeros_like(steps)
    series = {}
    for name in set(wanted) & set(header):
        column = table[:, header.index(name)]
        present = ~np.isnan(column)
        if present.any():
            series[name] = Series(steps[present], epochs[present], column[present])
    return header, series


def parse_numbers(body: str, width: int) -> np.ndarray:
    """CSV rows of numbers with empty cells as NaN, parsed by numpy's C reader in one call.

    Empty cells become 'nan' by plain string replacement (twice: ',,,' overlaps); a torn last
    line (a run killed while writing) sends the block to the slow path, which keeps only rows
    with `width` fields.
    """
    filled = ("\n" + body + "\n").replace(",,", ",nan,").replace(",,", ",nan,")
    filled = filled.replace(",\n", ",nan\n").replace("\n,", "\nnan,")
    try:
        return np.loadtxt(io.StringIO(filled), delimiter=",", ndmin=2)
    except ValueError:
        rows = [line for line in filled.splitlines() if line and line.count(",") == width - 1]
        try:
            return np.loadtxt(rows, delimiter=",", ndmin=2)
        except ValueError:
            return np.empty((0, width))


def read_hydra_config(run_dir: Path) -> dict[str, Any]:
    """The composed config of a run that wrote no results.json, with what resolves resolved."""
    from omegaconf import OmegaConf

    try:
        cfg = OmegaConf.load(run_dir / HYDRA_CONFIG)
    except (OSError, ValueError):
        return {}
    raw = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(raw, dict)

    def resolve(node: Any, key: str) -> Any:
        if isinstance(node, dict):
            return {k: resolve(v, f"{key}.{k}" if key else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v, f"{key}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, str) and "${" in node:
            # Hydra's own resolvers (hydra:runtime...) do not exist outside a Hydra app.
            return OmegaConf.select(cfg, key, throw_on_resolution_failure=False)
        return node

    return resolve(raw, "")


def wandb_run_ids(run_dir: Path) -> tuple[str, ...]:
    """IDs of the W&B runs logged under the folder (wandb/offline-run-<time>-<id>)."""
    try:
        names = os.listdir(run_dir / "wandb")
    except OSError:
        return ()
    return tuple(
        sorted(n.rsplit("-", 1)[1] for n in names if n.startswith(("run-", "offline-run-")))
    )


def unflatten(params: dict[str, Any]) -> dict[str, Any]:
    """Optuna params named by override key ('optimizer.lr') as a nested config."""
    config: dict[str, Any] = {}
    for key, value in params.items():
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return config


def last_values(per_step: dict[str, Series]) -> dict[str, float | None]:
    """Last logged value of each metric, for a run that stopped before writing its results."""
    return {name: float(s.values[-1]) for name, s in per_step.items()}


def load_run(ref: RunRef, csv_columns: Iterable[str]) -> Run:
    if ref.path is None:
        return Run(
            ref=ref,
            status=ref.trial_status or "missing",
            reason="the trial has no run folder (no output_dir user attribute, or it is gone)",
            config=unflatten(ref.params),
            seed=None,
            final={},
            best={},
            per_epoch={},
            per_step={},
            metric_names=frozenset(),
        )
    header, per_step = read_metrics_csv(ref.path / METRICS_CSV, csv_columns)
    try:
        with open(ref.path / RESULTS) as handle:
            results = json.load(handle)
    except (OSError, ValueError):
        results = None
    if results is None:
        config = read_hydra_config(ref.path)
        epoch_rows = {k: s for k, s in per_step.items() if k.startswith(("val/", "test/"))}
        return Run(
            ref=ref,
            status="unfinished",
            reason="no results.json: still running, or killed",
            config=config,
            seed=config.get("seed"),
            final=last_values(per_step),
            best={},
            per_epoch=epoch_rows,
            per_step=per_step,
            metric_names=frozenset(header) - NOT_METRICS,
            wandb_ids=wandb_run_ids(ref.path),
        )
    per_epoch = history_series(results.get("history") or [])
    final = results.get("final") or {}
    best = results.get("best") or {}
    return Run(
        ref=ref,
        status=results.get("status", "unfinished"),
        reason=results.get("reason"),
        config=results.get("config") or {},
        seed=results.get("seed"),
        final=final,
        best=best,
        per_epoch=per_epoch,
        per_step=per_step,
        metric_names=frozenset(header) - NOT_METRICS | set(final) | set(best) | set(per_epoch),
        global_step=results.get("global_step"),
        wall_time_s=results.get("wall_time_s"),
        wandb_ids=wandb_run_ids(ref.path),
        git_commit=results.get("git_commit"),
        versions=results.get("versions") or {},
    )


def load_runs(refs: Sequence[RunRef], metric: str) -> list[Run]:
    """Every referenced run, with the per-step columns the report draws: train loss and metric."""
    columns = {"train/loss", metric}
    return [load_run(ref, columns) for ref in refs]
