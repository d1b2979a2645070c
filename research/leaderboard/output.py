"""The benchmark report's files: one CSV per table (`budget.csv`, ...), `summary.md`,
`targets.yaml` (AlgoPerf-style targets, ready to paste into the benchmark config) and a
self-contained `report.html` with the figures."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from research.leaderboard import aggregate, budget
from research.leaderboard.analysis import Analysis, Row, Table
from research.report import stats
from research.report.figures import FigureFile
from research.report.html import CSS, esc, figure, table

METHODS = (
    f"Budget curves: Dodge et al. (2019)'s expected best of k trials drawn with replacement "
    f"from the K observed ones; 95% percentile bands over {budget.RESAMPLES:,} bootstrap "
    "resamples of the trials (seed 0). A failed or diverged trial counts as the workload's "
    "failure_value (a wasted draw), as does any result worse than it; a pruned one with its "
    "last reported value; a killed one not at all. The leader at k is tested against the "
    "runner-up by a two-sided permutation test of their difference at k (the two studies are "
    "independent: their trials, or with an adaptive sampler their studies, are pooled and split "
    f"again): exact over all splits when there are at most {stats.RESAMPLES:,}, else "
    f"{stats.RESAMPLES:,} random splits with p = (hits + 1) / ({stats.RESAMPLES:,} + 1), never "
    "0. A final run diverged if it stopped as diverged or ended NaN or worse than the "
    "failure_value; a run without a verdict (failed, killed) counts nowhere. Final runs: mean "
    "and 95% percentile-bootstrap interval over seeds, Welch's t-test for tuned vs defaults, "
    "diverged runs left out and counted; the defaults portfolio and the measured target count "
    "a diverged run as the failure_value. Across workloads: test values normalised to "
    "0 (the workload's failure_value; diverged runs count as it) .. 1 (the best final run "
    "of the workload); interquartile mean and probability of "
    f"improvement with stratified bootstrap intervals ({aggregate.RESAMPLES:,} resamples), as "
    "rliable computes them. Time to target: the first epoch-end step whose validation metric "
    "reaches the target (a run that diverged later still reached it); wall time pro rata of "
    "steps; the performance profile uses the median "
    "over seeds (not reached unless more than half reach it) and the AlgoPerf score is its "
    "area up to tau = 4, normalised to [0, 1]."
)


def cell(value: Any, name: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if name == "p_value":
            return "<0.001" if value < 1e-3 else f"{value:.3f}"
        return f"{value:.4g}"
    return str(value)


def write_csv(t: Table, out: Path) -> Path:
    path = out / f"{t.name}.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(t.columns)
        writer.writerows(["" if v is None else v for v in row] for row in t.rows)
    return path


def markdown(t: Table) -> str:
    lines = [f"### {t.title}", "", "| " + " | ".join(t.columns) + " |"]
    lines.append("|" + "---|" * len(t.columns))
    lines += ["| " + " | ".join(cell(v, c) for v, c in zip(r, t.columns, strict=True)) + " |"
              for r in t.rows]  # fmt: skip
    return "\n".join(lines)


# The budget table is long (one row per k): the summary shows it as a figure and a CSV.
SUMMARY_TABLES = (
    "leaders", "defaults_vs_tuning", "tuned_vs_default", "iqm", "probability_of_improvement",
    "algoperf_score",
)  # fmt: skip


def targets_text(analysis: Analysis) -> str:
    rows = [
        {"workload": name, "target": value, "how": how}
        for name, (value, how) in analysis.targets.items()
    ]
    return yaml.safe_dump(rows, sort_keys=False)


def budget_markdown(analysis: Analysis) -> str:
    """The budget curves at the leader table's k, one row per workload and optimizer: the
    expected best with its 95% band, as a reader compares them across a row."""
    by_pair: dict[tuple[str, str], dict[int, Row]] = {}
    for row in analysis.tables["budget"].rows:
        by_pair.setdefault((row[0], row[1]), {})[row[2]] = row
    ks = budget.budgets_to_compare(analysis.bench.budget)
    lines = [
        "### Expected best validation result after k trials, 95% bootstrap band", "",
        "| workload | optimizer | " + " | ".join(f"k = {k}" for k in ks) + " |",
        "|---|---|" + "---:|" * len(ks),
    ]  # fmt: skip
    for (workload, optimizer), at in by_pair.items():
        cells = [
            f"{cell(at[k][3])} ({cell(at[k][4])}, {cell(at[k][5])})" if k in at else "—" for k in ks
        ]
        lines.append(f"| {workload} | {optimizer} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_md(analysis: Analysis) -> str:
    b = analysis.bench
    head = (
        f"# Benchmark {b.name}\n\n{len(b.workloads)} workloads, {len(b.optimizers)} optimizers, "
        f"K = {b.budget} trials each, S = {len(b.seeds)} seeds for the tuned best and the "
        f"defaults.\n\nTargets:\n\n" + "\n".join(
            f"- {name}: {cell(value)} ({how})" for name, (value, how) in analysis.targets.items()
        )
    )  # fmt: skip
    tables = [markdown(analysis.tables[name]) for name in SUMMARY_TABLES]
    return "\n\n".join([head, budget_markdown(analysis), *tables, "Methods: " + METHODS]) + "\n"


def _html_table(t: Table) -> str:
    rows = [[esc(cell(v, c)) for v, c in zip(r, t.columns, strict=True)] for r in t.rows]
    numeric = [i for i, v in enumerate(t.rows[0]) if isinstance(v, float | int)] if t.rows else []
    return f"<h3>{esc(t.title)}</h3>" + table(t.columns, rows, numeric=numeric)


def render_html(analysis: Analysis, figures: Sequence[FigureFile]) -> str:
    b = analysis.bench
    body = [
        f"<h1>Benchmark {esc(b.name)}</h1>",
        f'<p class="meta">{len(b.workloads)} workloads · {len(b.optimizers)} optimizers · '
        f"K = {b.budget} · S = {len(b.seeds)} · generated {datetime.now():%Y-%m-%d %H:%M}</p>",
        "<h2>Targets</h2><ul>"
        + "".join(
            f"<li>{esc(n)}: {esc(cell(v))} ({esc(h)})</li>"
            for n, (v, h) in analysis.targets.items()
        )
        + "</ul>",
        *(figure(f) for f in figures),
        *(_html_table(analysis.tables[name]) for name in SUMMARY_TABLES),
        f'<h2 id="methods">Methods</h2><p>{esc(METHODS)}</p>',
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Benchmark {esc(b.name)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
