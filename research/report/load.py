"""Read what a run left on disk into one `Run`: results.json first, metrics.csv for per-step
curves, `.hydra/config.yaml` when the run never finished. A run with a file that is there but
cannot be read is `unreadable`, with the reason, and enters no number.

Speed matters (hundreds of runs of thousands of steps): metrics.csv is split by the csv module
and converted column-wise by numpy, and only the columns the report needs are converted.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from research.report.discover import HYDRA_CONFIG, RESULTS, RunRef
from research.report.runfiles import Unreadable, read_results, read_text, read_yaml_mapping

METRICS_CSV = "metrics.csv"
NOT_METRICS = {"epoch", "step"}
# Outcomes in the order a reader cares about; only `completed` runs enter the statistics.
STATUSES = ("completed", "pruned", "diverged", "failed", "unfinished", "unreadable", "missing")
# Runs that have no results to compare (yet, or any more).
NOT_FINISHED = ("unfinished", "unreadable", "missing")


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
    # Only part of the config is known (a trial's params, a killed run's config.yaml with what
    # resolves outside Hydra): a key it lacks is unknown, not absent.
    partial_config: bool = False

    def __post_init__(self) -> None:
        self.partial_config = self.partial_config or self.ref.path is None  # a trial's params

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
    text = read_text(path.parent, path.name)
    if not text:
        return [], {}
    first, _, body = text.partition("\n")
    header = next(csv.reader([first]), [])
    if "step" not in header:
        raise Unreadable(f"{path.name}: no step column in its header")
    if not body.strip():
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
    """The composed config of a run that wrote no results.json, with what resolves resolved;
    what does not (Hydra's own `hydra:` resolvers exist only inside a Hydra app) is left out."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    raw = read_yaml_mapping(run_dir, HYDRA_CONFIG) or {}
    try:
        cfg = OmegaConf.create(raw)
    except (OmegaConfBaseException, ValueError) as error:
        raise Unreadable(f"{HYDRA_CONFIG}: {str(error).splitlines()[0]}") from None
    unknown = object()

    def resolve(node: Any, key: str) -> Any:
        if isinstance(node, dict):
            resolved = {k: resolve(v, f"{key}.{k}" if key else str(k)) for k, v in node.items()}
            return {k: v for k, v in resolved.items() if v is not unknown}
        if isinstance(node, list):
            return [resolve(v, f"{key}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, str) and "${" in node:
            return OmegaConf.select(cfg, key, default=unknown, throw_on_resolution_failure=False)
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
    problems: list[str] = []

    def attempt(read: Any, *args: Any) -> Any:
        try:
            return read(*args)
        except Unreadable as error:
            problems.append(str(error))
            return None

    results = attempt(read_results, ref.path, RESULTS)
    killed_config = attempt(read_hydra_config, ref.path) if results is None else None
    if results is not None:
        attempt(read_yaml_mapping, ref.path, HYDRA_CONFIG)  # read for the report settings
    header, per_step = attempt(read_metrics_csv, ref.path / METRICS_CSV, csv_columns) or ([], {})
    if problems:
        return unreadable_run(ref, results, killed_config, "; ".join(problems))
    if results is None:
        config = killed_config or {}
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
            partial_config=True,
        )
    per_epoch = history_series(results.get("history") or [])
    final = results.get("final") or {}
    best = results.get("best") or {}
    return Run(
        ref=ref,
        status=results["status"],
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


def unreadable_run(
    ref: RunRef, results: dict[str, Any] | None, killed_config: dict[str, Any] | None, reason: str
) -> Run:
    """A run listed with why it cannot be read, in the group its readable config names, with
    no metric: nothing of it enters the report's numbers or curves."""
    config = results.get("config") if results is not None else killed_config
    known = config if config else unflatten(ref.params)
    return Run(
        ref=ref,
        status="unreadable",
        reason=reason,
        config=known,
        seed=known.get("seed"),
        final={},
        best={},
        per_epoch={},
        per_step={},
        metric_names=frozenset(),
        partial_config=results is None or not config,
    )


def load_runs(refs: Sequence[RunRef], metric: str) -> list[Run]:
    """Every referenced run, with the per-step columns the report draws: train loss and metric."""
    columns = {"train/loss", metric}
    return [load_run(ref, columns) for ref in refs]
