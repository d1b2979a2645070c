"""report.html for several sweeps: one section per sweep (what it ran, its result per task, its
first figure) linking to the sweep's own report, so sweeps that compare different things are
never merged by accident."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from research.report.build import NothingToCompare, Outputs, status_counts
from research.report.errors import ReportError
from research.report.html import CSS, badge, esc, figure, table
from research.report.provenance import sources
from research.report.sweeps import Sweep
from research.report.tables import lead_sentence


def sweep_section(index: int, sweep: Sweep, outputs: Outputs) -> str:
    analysis = outputs.analysis
    made_by = sources(analysis.runs)
    rows = [
        [
            esc(task.task.label),
            esc(task.best.label if task.best else "—"),
            esc(lead_sentence(task.lead, analysis.metric)),
        ]
        for task in analysis.tasks
    ]
    return "\n".join(
        [
            f'<h2 id="sweep-{index}">{esc(sweep.name)}</h2>',
            f'<p><a href="{esc(sweep.folder)}/report.html">full report</a> · '
            f"{len(analysis.runs)} runs ("
            + esc(status_counts(analysis.runs))
            + f") · {esc(analysis.metric)}</p>",
            f"<pre>{esc(made_by[0].command)}</pre>" if made_by else "",
            table(["task", "best group", "result"], rows),
            *(figure(f) for f in outputs.figures[:1]),
        ]
    )


def skipped_section(index: int, sweep: Sweep, error: ReportError) -> str:
    """A sweep that could not be reported: why, and its runs with their reasons where the
    reason is that none has results yet."""
    runs = error.runs if isinstance(error, NothingToCompare) else []
    rows = [
        [
            f"<code>{esc(r.path or f'trial {r.ref.trial}')}</code>",
            badge(r.status),
            esc(r.reason or ""),
        ]
        for r in runs
    ]
    return "\n".join(
        [
            f'<h2 id="sweep-{index}">{esc(sweep.name)}</h2>',
            f'<div class="callout warn">Not reported: {esc(error)}.</div>',
            table(["run", "status", "reason"], rows) if rows else "",
        ]
    )


def render_index(sweeps: Sequence[tuple[Sweep, Outputs | ReportError]], title: str) -> str:
    """The index over every sweep given, those that could not be reported included."""
    nav = "".join(
        f'<a href="#sweep-{i}">{esc(sweep.name)}</a>' for i, (sweep, _) in enumerate(sweeps, 1)
    )
    skipped = sum(isinstance(outcome, ReportError) for _, outcome in sweeps)
    reported = (
        f"{len(sweeps) - skipped} reported, each on its own, {skipped} not reported"
        if skipped
        else "each reported on its own"
    )
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{len(sweeps)} sweeps, {reported} · generated '
        f"{datetime.now():%Y-%m-%d %H:%M}</p>",
        f"<nav>{nav}</nav>",
        '<div class="callout">Each sweep has its own comparison, tables and figures (follow '
        "<i>full report</i>). To compare the runs of all of them as one experiment, run the "
        "report again with <code>--pool</code>.</div>",
        *(
            skipped_section(i, sweep, outcome)
            if isinstance(outcome, ReportError)
            else sweep_section(i, sweep, outcome)
            for i, (sweep, outcome) in enumerate(sweeps, 1)
        ),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
