"""The comparison as tables: summary.csv / runs.csv (full precision, for scripts and tests),
summary.md and summary.tex (rounded, for a paper), and the sentences that state the result."""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from research.report import stats
from research.report.analysis import Analysis, GroupStats, Lead, TaskStats, steps_to_target
from research.report.grouping import MISSING, format_value
from research.report.load import STATUSES
from research.report.metrics import metric_label

DIGITS = 4


def methods_note(target: float | None) -> str:
    """How the statistics were computed; steps to target only when a target was given."""
    note = (
        "Statistics over the completed runs (seeds) of each group: mean ± sample standard "
        f"deviation (ddof=1); 95% CI: percentile bootstrap of the mean ({stats.RESAMPLES:,} "
        f"resamples, generator seed {stats.SEED}). The best group's lead over the runner-up is "
        f"tested with Welch's two-sided t-test at the {stats.ALPHA} level."
    )
    if target is None:
        return note
    return note + (
        f" Steps to target ({target:g}): first logged step at which a run reaches the target; "
        "median over seeds, counting runs that never reach it as infinite (reported as 'not "
        "reached' unless more than half reached)."
    )


def num(value: float | None, digits: int = DIGITS) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def steps_text(g: GroupStats) -> str:
    if not g.steps_to_target:
        return "—"
    median = "not reached" if g.median_steps is None else f"{g.median_steps:.0f}"
    return f"{median} ({g.reached}/{len(g.steps_to_target)} reached)"


def status_text(g: GroupStats) -> str:
    return ", ".join(f"{g.status_counts[s]} {s}" for s in STATUSES if g.status_counts[s])


def lead_sentence(lead: Lead | None, metric: str) -> str:
    if lead is None:
        return "Fewer than two groups have completed runs: no comparison."
    name = metric_label(metric, unit=False)
    if lead.difference == 0:
        return (
            f"Tie: {lead.best.label} and {lead.runner_up.label} have the same mean final "
            f"{name}, {num(lead.best.final.mean)}: no best group."
        )
    side = "higher" if lead.best.final.mean > lead.runner_up.final.mean else "lower"
    head = (
        f"Best: {lead.best.label}, final {name} "
        f"{num(lead.best.final.mean)} (n={lead.best.final.n}); lead over {lead.runner_up.label} "
        f"(n={lead.runner_up.final.n}): {lead.difference:.{DIGITS}f} {side}."
    )
    if lead.test is None:
        return head + " Not tested: Welch's t-test needs at least two seeds in each group."
    verdict = "significant" if lead.significant else "not significant"
    return (
        f"{head} Welch's t-test: t = {lead.test.t:.3g}, df = {lead.test.df:.3g}, "
        f"p = {lead.test.p:.3g}: {verdict} at the {stats.ALPHA} level."
    )


def _number(value: float | None) -> float | str:
    """Full precision for CSV; empty where there is no finite value."""
    return "" if value is None or not math.isfinite(value) else value


def _setting(value: Any) -> Any:
    if value is MISSING:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return format_value(value)


def summary_rows(analysis: Analysis) -> list[dict[str, Any]]:
    rows = []
    group_keys = analysis.grouping.group_keys
    for task in analysis.tasks:
        lead = task.lead
        for g in task.groups:
            is_best = g is task.best
            test = lead.test if lead and is_best else None
            row = {
                "task": task.task.label,
                "group": g.label,
                **{k: _setting(g.group.settings.get(k, MISSING)) for k in group_keys},
                "metric": analysis.metric,
                "rank": g.rank or "",
                "is_best": is_best,
                "n_seeds": g.final.n,
                "final_mean": _number(g.final.mean),
                "final_std": _number(g.final.std),
                "final_ci95_low": _number(g.final.ci_low),
                "final_ci95_high": _number(g.final.ci_high),
                "best_mean": _number(g.best.mean),
                "best_std": _number(g.best.std),
                "best_ci95_low": _number(g.best.ci_low),
                "best_ci95_high": _number(g.best.ci_high),
                "runner_up": lead.runner_up.label if lead and is_best else "",
                "lead": _number(lead.difference) if lead and is_best else "",
                "welch_t": _number(test.t) if test else "",
                "welch_df": _number(test.df) if test else "",
                "p_value": _number(test.p) if test else "",
                "significant": lead.significant if lead and is_best and test else "",
                "target": analysis.target if analysis.target is not None else "",
                "seeds_reached_target": g.reached if analysis.target is not None else "",
                "median_steps_to_target": _number(g.median_steps),
                "n_runs": len(g.group.runs),
                **{s: g.status_counts[s] for s in STATUSES},
            }
            rows.append(row)
    return rows


def run_rows(analysis: Analysis) -> list[dict[str, Any]]:
    rows = []
    for task in analysis.tasks:
        for g in task.groups:
            for run in g.group.runs:
                time = (
                    steps_to_target(
                        run, analysis.metric, analysis.target, analysis.higher_is_better
                    )
                    if analysis.target is not None
                    else None
                )
                rows.append(
                    {
                        "task": task.task.label,
                        "group": g.label,
                        "status": run.status,
                        "seed": "" if run.seed is None else run.seed,
                        "final": _number(run.value(analysis.metric)),
                        "best": _number(run.value(analysis.metric, "best")),
                        "steps_to_target": _number(time),
                        "global_step": "" if run.global_step is None else run.global_step,
                        "wall_time_s": "" if run.wall_time_s is None else run.wall_time_s,
                        "trial": "" if run.ref.trial is None else run.ref.trial,
                        "reason": run.reason or "",
                        "path": str(run.path or ""),
                    }
                )
    return rows


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def compared(task: TaskStats) -> list[GroupStats]:
    """The groups of the results table: those with at least one completed run."""
    return [g for g in task.groups if g.final.n]


def not_compared(task: TaskStats) -> list[GroupStats]:
    """Groups without a completed run (pruned trials, diverged or failed settings): listed
    apart, not as rows of dashes in the results table."""
    return [g for g in task.groups if not g.final.n]


def not_compared_sentence(task: TaskStats, limit: int = 5) -> str:
    """'Not compared (no completed run): Adam (lr=1e+37): 2 diverged.' Many are counted."""
    missing = not_compared(task)
    if not missing:
        return ""
    if len(missing) > limit:
        counts = Counter(s for g in missing for s in g.status_counts.elements())
        statuses = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
        return f"{len(missing)} groups have no completed run (runs: {statuses}): see runs.csv."
    return (
        "Not compared (no completed run): "
        + "; ".join(f"{g.label}: {status_text(g)}" for g in missing)
        + "."
    )


def display_rows(task: TaskStats, target: float | None) -> list[list[str]]:
    """Group, n, final mean ± std, 95% CI, best mean ± std, [steps to target], runs."""
    rows = []
    for g in compared(task):
        row = [
            ("★ " if g is task.best else "") + g.label,
            str(g.final.n),
            f"{num(g.final.mean)} ± {num(g.final.std)}" if g.final.n else "—",
            f"[{num(g.final.ci_low)}, {num(g.final.ci_high)}]" if g.final.n > 1 else "—",
            f"{num(g.best.mean)} ± {num(g.best.std)}" if g.best.n else "—",
        ]
        if target is not None:
            row.append(steps_text(g))
        rows.append([*row, status_text(g)])
    return rows


def headers(analysis: Analysis) -> list[str]:
    name = metric_label(analysis.metric, unit=False)
    columns = ["group", "seeds", f"final {name}", "95% CI", f"best {name}"]
    if analysis.target is not None:
        columns.append(f"steps to {analysis.target:g}")
    return [*columns, "runs"]


def markdown(analysis: Analysis) -> str:
    lines = [f"# Comparison on {analysis.metric}", ""]
    for task in analysis.tasks:
        lines += [f"## {task.task.label}", ""]
        columns = headers(analysis)
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row, g in zip(display_rows(task, analysis.target), compared(task), strict=True):
            cells = [c.replace("|", "\\|") for c in row]
            if g is task.best:
                cells = [f"**{c}**" for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", lead_sentence(task.lead, analysis.metric), ""]
        if not_compared(task):
            lines += [not_compared_sentence(task), ""]
    lines += [methods_note(analysis.target), ""]
    return "\n".join(lines)


TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "★": r"$\star$",
    "±": r"$\pm$",
    "—": "---",
    "β": r"$\beta$",
    "τ": r"$\tau$",
}


def tex(text: str) -> str:
    return "".join(TEX_ESCAPES.get(c, c) for c in text)


def latex(analysis: Analysis) -> str:
    """One booktabs table per task; needs \\usepackage{booktabs}."""
    parts = [f"% Generated by python -m research.report. {methods_note(analysis.target)}"]
    for task in analysis.tasks:
        columns = headers(analysis)
        body = []
        for row, g in zip(display_rows(task, analysis.target), compared(task), strict=True):
            cells = [tex(c) for c in row]
            if g is task.best:
                cells = [rf"\textbf{{{c}}}" for c in cells]
            body.append(" & ".join(cells) + r" \\")
        parts.append(
            "\n".join(
                [
                    r"\begin{table}[t]",
                    r"\centering",
                    r"\begin{tabular}{l" + "r" * (len(columns) - 2) + "l}",
                    r"\toprule",
                    " & ".join(tex(c) for c in columns) + r" \\",
                    r"\midrule",
                    *body,
                    r"\bottomrule",
                    r"\end{tabular}",
                    rf"\caption{{{tex(task.task.label)}. "
                    rf"{tex(lead_sentence(task.lead, analysis.metric))} "
                    rf"{tex(not_compared_sentence(task))}}}",
                    r"\end{table}",
                ]
            )
        )
    return "\n\n".join(parts) + "\n"
