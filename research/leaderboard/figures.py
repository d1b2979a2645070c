"""The benchmark's figures: expected best result against the tuning budget, tuned vs defaults,
interquartile means across workloads and the performance profile of the tuned optimizers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from research.config.benchmark_files import Workload
from research.leaderboard.analysis import VERDICTS, Analysis, diverged, outcome
from research.leaderboard.load import FinalRun
from research.report import stats
from research.report.figures import new_figure, style
from research.report.figures.colors import group_markers
from research.report.metrics import metric_label

MAX_NAMED = 3  # runs a panel's clipping note names; it counts the others
MAX_BANDS = 5  # optimizers whose bands a panel can show and a reader still tell apart
LEGEND_COLUMNS = 5


def _line_styles(analysis: Analysis, colors: dict[str, tuple[float, ...]]) -> dict[str, dict]:
    """Each optimizer's colour and, where a colour repeats past the palette, a marker."""
    markers = group_markers(colors, analysis.bench.optimizers)
    return {
        o: {"color": colors[o], "marker": markers[o], "markevery": 0.2, "markersize": 4}
        for o in analysis.bench.optimizers
    }


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 2)
    return math.ceil(n / cols), cols


def budget_curves(analysis: Analysis, colors: dict[str, tuple[float, ...]]) -> Figure:
    """One panel per workload: E[best validation result of k trials], with its 95% band for up
    to MAX_BANDS optimizers (beyond, the bands hide the curves; they are in budget.csv)."""
    workloads = analysis.bench.workloads
    rows, cols = _grid(len(workloads))
    lines = _line_styles(analysis, colors)
    bands = len(analysis.bench.optimizers) <= MAX_BANDS
    with style():
        fig = new_figure(5.2 * cols, 3.8 * rows)
        axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
        for ax, w in zip(axes, workloads, strict=False):
            for o in analysis.bench.optimizers:
                curve = analysis.curves.get((w.name, o))
                if curve is None:
                    continue
                k = np.arange(1, curve.expected_best.size + 1)
                ax.plot(k, curve.expected_best, label=o, **lines[o])
                if bands:
                    ax.fill_between(k, curve.ci_low, curve.ci_high, color=colors[o], alpha=0.15)
            ax.set_title(w.name)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("tuning budget k (trials)")
            ax.set_ylabel(f"expected best {metric_label(w.metric)}")
        for ax in axes[len(workloads) :]:
            ax.set_visible(False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", frameon=False,
                   ncol=min(len(labels), LEGEND_COLUMNS))  # fmt: skip
    return fig


def clipped_note(w: Workload, runs: Sequence[FinalRun]) -> str:
    """'2 run(s) worse than 220 drawn on the dashed line: sgd default seed 1 (1.2e+16), ...'
    for the runs a panel draws at the failure value instead of their own result (those that
    diverged); a run without a verdict is not drawn, so not named."""
    worse = [r for r in runs if r.status in VERDICTS and diverged(w, r, "test")]
    if not worse:
        return ""
    named = [
        f"{r.optimizer} {r.variant} seed {r.seed} "
        f"({f'{r.test:.3g}' if math.isfinite(r.test) else r.status})"
        for r in worse
    ]
    more = f" and {len(named) - MAX_NAMED} more" if len(named) > MAX_NAMED else ""
    return (
        f"{len(worse)} run(s) worse than {w.failure_value:g} drawn on the dashed line: "
        f"{', '.join(named[:MAX_NAMED])}{more}"
    )


def tuned_vs_default(analysis: Analysis, colors: dict[str, tuple[float, ...]]) -> Figure:
    """Per workload, each optimizer's final test metric over seeds: tuned (filled) and at its
    defaults (open), seeds as dots; diverged runs and results worse than the failure value
    (dashed) sit on it, and the panel names them."""
    bench = analysis.bench
    rows, cols = _grid(len(bench.workloads))
    with style():
        width = max(5.2, 0.4 * len(bench.optimizers))  # a panel's width: room for its labels
        fig = new_figure(width * cols, 3.6 * rows + 0.4)
        axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
        for ax, w in zip(axes, bench.workloads, strict=False):
            drawn: list[FinalRun] = []
            for i, o in enumerate(bench.optimizers):
                for shift, variant, face in (
                    (-0.15, "tuned", colors[o]),
                    (0.15, "default", "none"),
                ):
                    runs = bench.runs(w.name, o, variant)
                    drawn += runs
                    values = [v for r in runs if (v := outcome(w, r, "test")) is not None]
                    ax.scatter([i + shift] * len(values), values, s=24, edgecolors=colors[o],
                               facecolors=face, label=variant if i == 0 else None)  # fmt: skip
            ax.axhline(w.failure_value, color="0.5", linestyle="--", linewidth=1,
                       label="failure value" if ax is axes[0] else None)  # fmt: skip
            ax.set_xlim(-0.5, len(bench.optimizers) - 0.5)
            ax.set_xticks(range(len(bench.optimizers)), bench.optimizers, rotation=60,
                          ha="right", rotation_mode="anchor", fontsize=8)  # fmt: skip
            note = clipped_note(w, drawn)
            ax.set_title(w.name + (f"\n{note}" if note else ""), wrap=True,
                         fontsize=9 if note else None)  # fmt: skip
            ax.set_ylabel(metric_label(w.test_metric))
        for ax in axes[len(bench.workloads) :]:
            ax.set_visible(False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    return fig


def iqm_intervals(analysis: Analysis, colors: dict[str, tuple[float, ...]]) -> Figure:
    rows = analysis.tables["iqm"].rows
    with style():
        fig = new_figure(7, 1.0 + 0.4 * len(rows))
        ax = fig.subplots()
        for y, (optimizer, variant, _, estimate, low, high) in enumerate(rows):
            ax.errorbar([estimate], [y], xerr=[[estimate - low], [high - estimate]], fmt="o",
                        color=colors[optimizer], mfc="white" if variant == "default" else None,
                        capsize=3)  # fmt: skip
        ax.set_yticks(range(len(rows)), [f"{r[0]} ({r[1]})" for r in rows])
        ax.invert_yaxis()
        ax.set_xlabel("IQM of normalised test score (0 failure value, 1 best run of the workload)")
    return fig


def performance_profile(analysis: Analysis, colors: dict[str, tuple[float, ...]]) -> Figure:
    ratios = analysis.profiles["steps"]
    taus = np.linspace(1.0, stats.ALGOPERF_TAU_MAX, 301)
    lines = _line_styles(analysis, colors)
    with style():
        fig = new_figure(7, 4.2)
        ax = fig.subplots()
        for o, r in ratios.items():
            score = stats.algoperf_score(r)
            ax.step(taus, stats.performance_profile(r, taus), where="post",
                    label=f"{o} (score {score:.3f})", **lines[o])  # fmt: skip
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("τ (steps to target / fewest steps on the workload)")
        ax.set_ylabel("fraction of workloads with ratio ≤ τ")
        fig.legend(loc="outside right center", frameon=False, fontsize=8)
    return fig
