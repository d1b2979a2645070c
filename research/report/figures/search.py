"""Hyperparameter searches: the metric against the learning rate (sensitivity) and over the
beta1 x beta2 plane (heatmap)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from research.report.analysis import GroupStats, TaskStats
from research.report.figures import new_figure, style
from research.report.grouping import MISSING, format_value, label, short_name
from research.report.metrics import metric_label

MAX_FAMILIES = 8  # beyond this (a continuous search) points are coloured by optimizer only
MAX_CELLS = 10  # more distinct beta values than this are binned


def find_key(keys: Sequence[str], *names: str) -> str | None:
    return next((k for k in keys if k.rsplit(".", 1)[-1] in names), None)


def betas(settings: dict[str, Any], keys: Sequence[str]) -> tuple[float, float] | None:
    """(beta1, beta2) from scalar `beta1`/`beta2` keys or a torch-style `betas` pair."""
    b1, b2, pair = find_key(keys, "beta1"), find_key(keys, "beta2"), find_key(keys, "betas")
    if b1 and b2 and settings.get(b1, MISSING) is not MISSING:
        return float(settings[b1]), float(settings[b2])
    value = settings.get(pair, MISSING) if pair else MISSING
    if isinstance(value, tuple) and len(value) == 2:
        return float(value[0]), float(value[1])
    return None


def lr_sensitivity(task: TaskStats, metric: str, group_keys: Sequence[str], lr_key: str) -> Figure:
    groups = [g for g in task.groups if g.group.settings.get(lr_key, MISSING) is not MISSING]
    family_keys = [k for k in group_keys if k != lr_key]
    families: dict[str, list[GroupStats]] = {}
    for g in groups:
        families.setdefault(label(g.group.settings, family_keys), []).append(g)
    if len(families) > MAX_FAMILIES:
        targets = [k for k in group_keys if k.endswith("._target_")]
        families = {}
        for g in groups:
            name = " + ".join(short_name(g.group.settings.get(k)) for k in targets) or "runs"
            families.setdefault(name, []).append(g)
        connect = False
    else:
        connect = True
    with style():
        fig = new_figure(8, 5.5)
        ax = fig.subplots()
        cmap = matplotlib.colormaps["tab10"]
        stopped = blended_transform_factory(ax.transData, ax.transAxes)
        failed_label = "run that did not complete"
        for i, (name, members) in enumerate(families.items()):
            color = cmap(i % cmap.N)
            members = sorted(members, key=lambda g: g.group.settings[lr_key])
            for g in members:
                lr = float(g.group.settings[lr_key])
                values = [v for v in g.final_values if v is not None]
                ax.scatter([lr] * len(values), values, s=12, color=color, alpha=0.45)
                for run in g.group.runs:
                    if run.status != "completed":
                        ax.plot(
                            lr,
                            0.02,
                            marker="x",
                            color="tab:red",
                            markersize=8,
                            transform=stopped,
                            label=failed_label,
                            clip_on=False,
                        )
                        failed_label = "_"
            ranked = [g for g in members if g.final.n]
            if connect and ranked:
                x = [float(g.group.settings[lr_key]) for g in ranked]
                y = np.array([g.final.mean for g in ranked])
                low = np.nan_to_num(y - [g.final.ci_low for g in ranked])
                high = np.nan_to_num([g.final.ci_high for g in ranked] - y)
                ax.errorbar(x, y, yerr=[low, high], color=color, marker="o", capsize=3, label=name)
            else:
                ax.scatter([], [], color=color, label=name)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel(f"final {metric_label(metric)}")
        ax.set_title("sensitivity to the learning rate (lines: mean and 95% CI over seeds)")
        ax.legend(loc="best")
    return fig


def _cells(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Index of each value's cell, and the cell labels: distinct values, or bins in
    log10(1 - beta) (betas crowd near 1) when a continuous search gives too many."""
    distinct = np.unique(values)
    if distinct.size <= MAX_CELLS:
        return np.searchsorted(distinct, values), [format_value(float(v)) for v in distinct]
    scaled = np.log10(np.clip(1.0 - values, 1e-12, None))
    edges = np.linspace(scaled.min(), scaled.max(), 7)
    index = np.clip(np.searchsorted(edges, scaled, side="right") - 1, 0, 5)
    bounds = 1.0 - 10.0**edges
    names = [f"[{bounds[i + 1]:.4g}, {bounds[i]:.4g})" for i in range(6)]
    return 5 - index, names[::-1]


def _grid(
    points: list[tuple[tuple[float, float], GroupStats]],
    cells: tuple[np.ndarray, np.ndarray],
    shape: tuple[int, int],
    higher: bool,
) -> np.ndarray:
    """Per cell the best group mean among the groups in it (the best over the other
    hyperparameters, e.g. the learning rate)."""
    grid = np.full(shape, np.nan)
    for x, y, (_, g) in zip(*cells, points, strict=True):
        if math.isnan(grid[y, x]) or (g.final.mean > grid[y, x]) == higher:
            grid[y, x] = g.final.mean
    return grid


def beta_heatmap(task: TaskStats, metric: str, group_keys: Sequence[str], higher: bool) -> Figure:
    """One panel per optimizer class, a shared colour scale, values written in the cells."""
    points = [(betas(g.group.settings, group_keys), g) for g in task.groups if g.final.n]
    points = [(b, g) for b, g in points if b is not None]
    i1, names1 = _cells(np.array([b[0] for b, _ in points]))
    i2, names2 = _cells(np.array([b[1] for b, _ in points]))
    targets = [k for k in group_keys if k.endswith("._target_")]
    families: dict[str, list[int]] = {}
    for i, (_, g) in enumerate(points):
        name = " + ".join(short_name(g.group.settings.get(k)) for k in targets) or "all groups"
        families.setdefault(name, []).append(i)
    grids = {
        name: _grid(
            [points[i] for i in idx], (i1[idx], i2[idx]), (len(names2), len(names1)), higher
        )
        for name, idx in families.items()
    }
    finite = np.concatenate([g[np.isfinite(g)] for g in grids.values()])
    low, high = float(finite.min()), float(finite.max())
    with style():
        fig = new_figure(1.2 + (0.4 + 1.1 * len(names1)) * len(grids), 1.6 + 0.75 * len(names2))
        axes = np.atleast_1d(fig.subplots(1, len(grids), sharey=True))
        for ax, (name, grid) in zip(axes, grids.items(), strict=True):
            image = ax.imshow(
                grid,
                cmap="viridis" if higher else "viridis_r",
                origin="lower",
                aspect="auto",
                vmin=low,
                vmax=high,
            )
            for (y, x), value in np.ndenumerate(grid):
                if math.isfinite(value):
                    bright = (value > (low + high) / 2) == higher
                    ax.text(
                        x,
                        y,
                        f"{value:.3f}",
                        ha="center",
                        va="center",
                        fontsize=10,
                        color="black" if bright else "white",
                    )
            ax.set_xticks(range(len(names1)), names1, rotation=30 if len(names1) > 5 else 0)
            ax.set_yticks(range(len(names2)), names2)
            ax.set_xlabel("β₁ (first-moment decay)")
            ax.set_title(name)
            ax.grid(False)
        axes[0].set_ylabel("β₂ (second-moment decay)")
        fig.colorbar(image, ax=list(axes), label=f"final {metric_label(metric)}")
        fig.suptitle("per cell: the best group mean over the other hyperparameters")
    return fig
