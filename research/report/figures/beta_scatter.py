"""A sampled (continuous) search over beta1 x beta2: every sampled pair where it was
sampled, coloured by the metric, instead of a heatmap's bins that hide where the sampler went."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from research.report.analysis import GroupStats, TaskStats
from research.report.figures import new_figure, style
from research.report.figures.search import betas
from research.report.grouping import family_label
from research.report.metrics import metric_label


def _one_minus(ticks: float, _: int) -> str:
    return f"{1 - ticks:g}"


def beta_scatter(task: TaskStats, metric: str, group_keys: Sequence[str], higher: bool) -> Figure:
    """Every sampled (beta1, beta2) where it was sampled, coloured by its final metric, one
    panel per optimizer; axes in 1 - beta on a log scale (betas crowd near 1), labelled in
    beta. Groups without a completed run are grey crosses; a star marks the best."""
    points = [(betas(g.group.settings, group_keys), g) for g in task.groups]
    points = [(b, g) for b, g in points if b is not None]
    families: dict[str, list[tuple[tuple[float, float], GroupStats]]] = {}
    for b, g in points:
        families.setdefault(family_label(g.group.settings, group_keys), []).append((b, g))
    finals = [g.final.mean for _, g in points if g.final.n]
    low, high = min(finals), max(finals)
    with style():
        fig = new_figure(1.5 + 4.6 * len(families), 5.2)
        axes = np.atleast_1d(fig.subplots(1, len(families), sharey=True))
        for ax, (name, members) in zip(axes, families.items(), strict=True):
            done = [(b, g) for b, g in members if g.final.n]
            stopped = [b for b, g in members if not g.final.n]
            image = ax.scatter(
                [1 - b[0] for b, _ in done],
                [1 - b[1] for b, _ in done],
                c=[g.final.mean for _, g in done],
                cmap="viridis" if higher else "viridis_r",
                vmin=low,
                vmax=high,
                s=45,
                edgecolors="0.2",
                linewidths=0.5,
                zorder=3,
            )
            if stopped:
                ax.scatter(
                    [1 - b[0] for b in stopped],
                    [1 - b[1] for b in stopped],
                    marker="x",
                    color="0.55",
                    s=30,
                    label=f"no completed run ({len(stopped)})",
                    zorder=2,
                )
            best = [(b, g) for b, g in done if g.rank == 1]
            if best:
                ax.scatter(
                    [1 - best[0][0][0]],
                    [1 - best[0][0][1]],
                    marker="*",
                    s=260,
                    facecolors="none",
                    edgecolors="black",
                    linewidths=1.2,
                    label="best",
                    zorder=4,
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            for axis in (ax.xaxis, ax.yaxis):  # after the scale, which sets its own
                axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                axis.set_major_formatter(FuncFormatter(_one_minus))
                axis.set_minor_formatter(NullFormatter())
            ax.invert_xaxis()
            ax.set_xlabel("β₁ (first-moment decay; log scale of 1 - β₁)")
            ax.set_title(f"{name}: {len(members)} sampled")
            if stopped or best:
                ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
        axes[0].invert_yaxis()
        axes[0].set_ylabel("β₂ (log scale of 1 - β₂)")
        fig.colorbar(image, ax=list(axes), label=f"final {metric_label(metric)}")
        fig.suptitle("each point a sampled configuration, coloured by its mean over seeds")
    return fig
