"""Learning curves per group: mean over seeds with a shaded 95% bootstrap interval, by step and
by epoch, for the training loss and the chosen metric. Runs that did not complete are drawn
one by one, dashed, ending in a cross: visible, never averaged in. A curve far above the
others is clipped (see `clipping`), which the panel's title says."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from research.report.analysis import MAX_CURVES, GroupStats, Panel, TaskStats
from research.report.figures import new_figure, style
from research.report.figures.clipping import clip_level
from research.report.figures.colors import group_color, group_markers
from research.report.metrics import metric_label

AXES = {"steps": "optimizer step", "epochs": "epoch"}
MAX_FINALS = 3 * MAX_CURVES  # rows of the final-value plot (one line each, easy to tell apart)
MARK_EVERY = 0.1  # a marker every tenth of the axes' diagonal, however many points a line has


def left_out(task: TaskStats) -> str:
    """'; best 10 of 42 groups drawn, 32 left out' when the curves leave groups out."""
    with_runs = [g for g in task.groups if g.group.runs]
    hidden = len(with_runs) - len(task.drawn)
    return (
        f"; best {len(task.drawn)} of {len(with_runs)} groups drawn, {hidden} left out"
        if hidden
        else ""
    )


@dataclass(frozen=True)
class _Curve:
    """A line of a panel: a group's mean (with its band) or a run that did not complete."""

    group: GroupStats
    name: str  # as the clipping note names it
    x: np.ndarray
    y: np.ndarray
    band: tuple[np.ndarray, np.ndarray] | None  # a mean's interval; None: a run


def _curves(groups: list[GroupStats], panel: Panel) -> list[_Curve]:
    metric, by = panel
    found = []
    for g in groups:
        band = g.curves.get(panel)
        if band is not None:
            found.append(_Curve(g, f"{g.label} mean", band.x, band.mean, (band.low, band.high)))
        for run in g.group.runs:
            series = run.series(metric, by)
            if run.status == "completed" or series is None or not series.values.size:
                continue
            name = f"{g.label} seed {run.seed} ({run.status})"
            found.append(_Curve(g, name, getattr(series, by), series.values, None))
    return found


def _peak(values: np.ndarray) -> str:
    if np.isinf(values).any():
        return "inf"
    return f"{np.nanmax(values):.3g}"


def _panel(
    ax: Axes,
    groups: list[GroupStats],
    colors: dict[str, tuple[float, ...]],
    markers: dict[str, str | None],
    panel: Panel,
    target: float | None,
) -> None:
    metric, by = panel
    curves = _curves(groups, panel)
    if not curves:
        ax.text(
            0.5,
            0.5,
            f"{metric} has no curve\n(logged once, or not at all)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        return
    is_loss = metric.endswith(("loss", "loss_epoch"))
    positive = all((c.y[np.isfinite(c.y)] > 0).all() for c in curves)
    clip = clip_level([c.y for c in curves], log=is_loss and positive)
    level, clipped = clip if clip is not None else (math.inf, [])
    for i, c in enumerate(curves):
        color = group_color(colors, c.group.label)
        marked = {"marker": markers.get(c.group.label), "markevery": MARK_EVERY}
        y = np.minimum(c.y, level)
        if c.band is not None:
            if c.x.size < 3:
                marked = {"marker": markers.get(c.group.label) or "o"}
            ax.plot(c.x, y, color=color, **marked)
            low, high = (np.minimum(bound, level) for bound in c.band)
            ax.fill_between(c.x, low, high, color=color, alpha=0.2, linewidth=0)
        else:
            ax.plot(c.x, y, color=color, linestyle="--", linewidth=1.0, alpha=0.8, **marked)
            ax.plot(c.x[-1], y[-1], marker="x", color=color, markersize=7)
        if i in clipped:  # where it leaves the panel
            first = int(np.argmax(np.nan_to_num(c.y, nan=-np.inf) > level))
            ax.plot(c.x[first], level, marker="^", color=color, markersize=9, clip_on=False)
    if clipped:
        names = "; ".join(f"{curves[i].name} up to {_peak(curves[i].y)}" for i in clipped)
        ax.set_title(f"▲ clipped at {level:.3g}: {names}", loc="left", fontsize=9, wrap=True)
    if target is not None:
        ax.axhline(target, color="0.35", linestyle=":", linewidth=1.2)
    if is_loss and _spans_decades(ax):
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(AXES[by])
    ax.set_ylabel(metric_label(metric))


def legend_label(g: GroupStats) -> str:
    """'Adam (lr=0.01) (n=2; 1 diverged)': n counts the seeds in the mean."""
    others = [f"{n} {status}" for status, n in g.status_counts.items() if status != "completed"]
    return f"{g.label} (n={len(g.completed)}{'; ' if others else ''}{', '.join(others)})"


def _spans_decades(ax: Axes) -> bool:
    low, high = ax.dataLim.y0, ax.dataLim.y1
    return low > 0 and math.isfinite(high) and high / low > 10


def learning_curves(
    task: TaskStats, colors: dict[str, tuple[float, ...]], target: float | None
) -> Figure:
    groups = task.drawn
    markers = group_markers(colors, [g.label for g in task.groups])
    with style():
        fig = new_figure(12, 8.5)
        for i, (ax, panel) in enumerate(zip(fig.subplots(2, 2).flat, task.panels, strict=True)):
            _panel(ax, groups, colors, markers, panel, target if i >= 2 else None)
        handles = [
            Line2D(
                [],
                [],
                color=group_color(colors, g.label),
                marker=markers.get(g.label),
                label=legend_label(g),
            )
            for g in groups
        ]
        handles.append(
            Line2D(
                [],
                [],
                color="0.3",
                linestyle="--",
                marker="x",
                label="run that did not complete (x: where it stopped)",
            )
        )
        if target is not None:
            handles.append(Line2D([], [], color="0.35", linestyle=":", label=f"target {target:g}"))
        fig.legend(
            handles=handles, loc="outside lower center", ncol=min(3, len(handles)), frameon=False
        )
        fig.suptitle(
            f"{task.task.label}: mean over seeds, shaded 95% bootstrap CI{left_out(task)}",
            wrap=True,
        )
    return fig


def final_values(task: TaskStats, metric: str, colors: dict[str, tuple[float, ...]]) -> Figure:
    """Dot-and-whisker plot of the final metric per group: seeds as dots, mean with 95% CI."""
    completed = [g for g in task.groups if g.final.n]
    groups = completed[:MAX_FINALS]
    with style():
        fig = new_figure(8, 1.2 + 0.45 * max(len(groups), 1))
        ax = fig.subplots()
        rng = np.random.default_rng(0)
        for y, g in enumerate(groups):
            values = np.array([v for v in g.final_values if v is not None])
            ax.scatter(
                values, y + rng.uniform(-0.12, 0.12, values.size), s=14, color="0.55", zorder=2
            )
            low = g.final.mean - g.final.ci_low if g.final.n > 1 else 0.0
            high = g.final.ci_high - g.final.mean if g.final.n > 1 else 0.0
            ax.errorbar(
                g.final.mean,
                y,
                xerr=[[low], [high]],
                fmt="o",
                color=group_color(colors, g.label),
                markersize=7,
                capsize=4,
                zorder=3,
            )
        ax.set_yticks(range(len(groups)))
        ax.set_yticklabels([("★ " if g is task.best else "") + g.label for g in groups])
        ax.invert_yaxis()
        ax.set_xlabel(f"final {metric_label(metric)}")
        hidden = len(completed) - len(groups)
        note = (
            f"; best {len(groups)} of {len(completed)} groups, {hidden} not shown" if hidden else ""
        )
        ax.set_title(
            f"mean and 95% bootstrap CI over seeds (grey: individual seeds){note}", wrap=True
        )
    return fig
