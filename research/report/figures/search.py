"""Hyperparameter searches: the metric against the learning rate (sensitivity) and over the
beta1 x beta2 plane (a heatmap for a grid; a sampled search is drawn by `beta_scatter`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from research.report.analysis import GroupStats, TaskStats
from research.report.figures import new_figure, style
from research.report.figures.colors import Color, group_color, palette
from research.report.grouping import MISSING, family_label, format_value, label
from research.report.metrics import metric_label

MAX_FAMILIES = 8  # beyond this (a continuous search) points are coloured by optimizer only
MAX_CELLS = 10  # more distinct beta values than this: a sampled search, drawn as a scatter


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


def sensitivity_families(
    task: TaskStats, group_keys: Sequence[str], lr_key: str
) -> tuple[dict[str, list[GroupStats]], list[str], bool]:
    """The curves of a sensitivity plot: groups alike but for the learning rate (by optimizer
    alone in a continuous search, where no two groups are alike), those that tried at least
    two learning rates; the names of the families left out (one learning rate each); and
    whether the curves are lines (a grid) or scattered points (a continuous search)."""
    groups = [g for g in task.groups if g.group.settings.get(lr_key, MISSING) is not MISSING]
    family_keys = [k for k in group_keys if k != lr_key]
    families: dict[str, list[GroupStats]] = {}
    for g in groups:
        families.setdefault(label(g.group.settings, family_keys), []).append(g)
    connect = len(families) <= MAX_FAMILIES
    if not connect:
        families = {}
        for g in groups:
            families.setdefault(family_label(g.group.settings, group_keys), []).append(g)
    varied = {
        name: members
        for name, members in families.items()
        if len({g.group.settings[lr_key] for g in members}) > 1
    }
    return varied, [name for name in families if name not in varied], connect


def lr_sensitivity(
    task: TaskStats,
    metric: str,
    group_keys: Sequence[str],
    lr_key: str,
    colors: Mapping[str, Color] | None = None,
) -> Figure:
    """The final metric against the learning rate, one curve per family that tried several;
    a family's line has the colour of its optimizer, each point the colour of its group."""
    families, left_out, connect = sensitivity_families(task, group_keys, lr_key)
    colors = colors if colors is not None else report_colors(task, group_keys)
    styles = ("-", "--", ":", "-.")
    used: dict[Color, int] = {}
    with style():
        fig = new_figure(8, 5.5)
        ax = fig.subplots()
        stopped = blended_transform_factory(ax.transData, ax.transAxes)
        # Every seed's dot in one collection and every stopped run's cross in one line: one
        # artist per group made a 2,000-trial search's figure cost seconds to draw.
        seeds: list[tuple[float, float, Color]] = []
        crosses: list[float] = []
        for name, members in families.items():
            color = group_color(colors, family_label(members[0].group.settings, group_keys))
            linestyle = styles[used.get(color, 0) % len(styles)]
            used[color] = used.get(color, 0) + 1
            members = sorted(members, key=lambda g: g.group.settings[lr_key])
            for g in members:
                lr = float(g.group.settings[lr_key])
                dot = group_color(colors, g.label)
                seeds += [(lr, v, dot) for v in g.final_values if v is not None]
                crosses += [lr for run in g.group.runs if run.status != "completed"]
            ranked = [g for g in members if g.final.n]
            if connect and ranked:
                x = [float(g.group.settings[lr_key]) for g in ranked]
                y = np.array([g.final.mean for g in ranked])
                low = np.nan_to_num(y - [g.final.ci_low for g in ranked])
                high = np.nan_to_num([g.final.ci_high for g in ranked] - y)
                ax.errorbar(
                    x, y, yerr=[low, high], color=color, linestyle=linestyle, capsize=3, label=name
                )
                ax.scatter(
                    x, y, color=[group_color(colors, g.label) for g in ranked], s=40, zorder=3
                )
            else:
                ax.scatter([], [], color=color, label=name)
        if seeds:
            lrs, values, dots = zip(*seeds, strict=True)
            size, alpha = (12, 0.45) if connect else (36, 0.9)
            ax.scatter(lrs, values, s=size, color=list(dots), alpha=alpha)
        if crosses:
            ax.plot(
                crosses,
                [0.02] * len(crosses),
                linestyle="none",
                marker="x",
                color="0.3",
                markersize=8,
                transform=stopped,
                label="run that did not complete",
                clip_on=False,
            )
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel(f"final {metric_label(metric)}")
        omitted = f"; one learning rate only, not shown: {', '.join(left_out)}" if left_out else ""
        shown = (
            "lines: mean and 95% CI over seeds"
            if connect
            else "each point a seed of a sampled configuration, in its group's colour"
        )
        ax.set_title(f"sensitivity to the learning rate ({shown}){omitted}", wrap=True)
        ax.legend(loc="best")
    return fig


def report_colors(task: TaskStats, group_keys: Sequence[str]) -> dict[str, Color]:
    """The palette a figure drawn on its own uses (a report passes the report's)."""
    labels = [g.label for g in task.groups]
    families = {g.label: family_label(g.group.settings, group_keys) for g in task.groups}
    return palette(labels, families)


def is_continuous(points: Sequence[tuple[float, float]]) -> bool:
    """More distinct beta values than a heatmap has readable cells: a sampled search."""
    return any(len({p[i] for p in points}) > MAX_CELLS for i in (0, 1))


def _cells(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Index of each value's cell, and the cell labels: the distinct values."""
    distinct = np.unique(values)
    return np.searchsorted(distinct, values), [format_value(float(v)) for v in distinct]


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
    families: dict[str, list[int]] = {}
    for i, (_, g) in enumerate(points):
        families.setdefault(family_label(g.group.settings, group_keys), []).append(i)
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
