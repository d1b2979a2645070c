"""report.html for several sweeps: one section per sweep (what it ran, its result per task, its
first figure) linking to the sweep's own report, so sweeps that compare different things are
never merged by accident."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from research.report.build import Outputs
from research.report.html import CSS, esc, figure, table
from research.report.load import STATUSES
from research.report.provenance import sources
from research.report.sweeps import Sweep
from research.report.tables import lead_sentence


def sweep_section(index: int, sweep: Sweep, outputs: Outputs) -> str:
    analysis = outputs.analysis
    counts = Counter(r.status for r in analysis.runs)
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
            + esc(", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]))
            + f") · {esc(analysis.metric)}</p>",
            f"<pre>{esc(made_by[0].command)}</pre>" if made_by else "",
            table(["task", "best group", "result"], rows),
            *(figure(f) for f in outputs.figures[:1]),
        ]
    )


def render_index(sweeps: Sequence[tuple[Sweep, Outputs]], title: str) -> str:
    nav = "".join(
        f'<a href="#sweep-{i}">{esc(sweep.name)}</a>' for i, (sweep, _) in enumerate(sweeps, 1)
    )
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{len(sweeps)} sweeps, each reported on its own · generated '
        f"{datetime.now():%Y-%m-%d %H:%M}</p>",
        f"<nav>{nav}</nav>",
        '<div class="callout">Each sweep has its own comparison, tables and figures (follow '
        "<i>full report</i>). To compare the runs of all of them as one experiment, run the "
        "report again with <code>--pool</code>.</div>",
        *(sweep_section(i, sweep, outputs) for i, (sweep, outputs) in enumerate(sweeps, 1)),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
