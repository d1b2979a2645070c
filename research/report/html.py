"""report.html: one self-contained page (figures embedded as base64 PNG, CSS inline, no
scripts, no network) that opens offline in any browser."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from research.report import stats
from research.report.analysis import Analysis, Profile, TaskStats
from research.report.figures import FigureFile
from research.report.grouping import format_value
from research.report.load import STATUSES
from research.report.metrics import metric_label
from research.report.provenance import Source
from research.report.tables import (
    compared,
    display_rows,
    headers,
    lead_sentence,
    methods_note,
    not_compared,
    num,
    run_rows,
)

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1f2328; margin: 0; background: #f6f8fa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; background: #fff;
  box-shadow: 0 0 0 1px #d0d7de; }
h1 { font-size: 28px; margin: 8px 0 4px; } h2 { font-size: 22px; margin-top: 40px;
  border-bottom: 1px solid #d0d7de; padding-bottom: 4px; } h3 { font-size: 17px; }
.meta { color: #57606a; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; width: 100%; }
th, td { padding: 6px 10px; border-bottom: 1px solid #d8dee4; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; } td.num { font-variant-numeric: tabular-nums;
  text-align: right; white-space: nowrap; }
tr.best td { background: #dafbe1; font-weight: 600; }
tr.bad td { background: #fff8c5; }
.callout { border-left: 4px solid #8c959f; background: #f6f8fa; padding: 10px 14px;
  margin: 12px 0; }
.callout.good { border-color: #1a7f37; background: #dafbe1; }
.callout.warn { border-color: #9a6700; background: #fff8c5; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; color: #fff; background: #57606a; }
.badge.completed { background: #1a7f37; } .badge.diverged, .badge.failed { background: #cf222e; }
.badge.pruned { background: #8250df; } .badge.unfinished, .badge.missing { background: #9a6700; }
.badge.unreadable { background: #6e7781; }
figure { margin: 20px 0; } figure img { max-width: 100%; height: auto; border: 1px solid #d8dee4; }
figcaption { color: #57606a; font-size: 14px; margin-top: 4px; }
code, pre { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { background: #f6f8fa; padding: 8px 10px; overflow-x: auto; white-space: pre-wrap;
  word-break: break-all; margin: 0; }
details summary { cursor: pointer; color: #0969da; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
"""


def esc(value: object) -> str:
    return html.escape(str(value))


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    classes: Sequence[str] = (),
    numeric: Sequence[int] = (),
) -> str:
    """Cells are HTML already (escape before); `numeric` columns are right-aligned."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        cells = "".join(
            f'<td class="num">{c}</td>' if j in numeric else f"<td>{c}</td>"
            for j, c in enumerate(row)
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(fig: FigureFile) -> str:
    return (
        f'<figure id="{esc(fig.name)}"><img alt="{esc(fig.title)}" width="{fig.css_width()}" '
        f'src="data:image/png;base64,{fig.png_base64()}">'
        f"<figcaption><b>{esc(fig.title)}.</b> {esc(fig.caption)} "
        f"(<code>{esc(fig.png.name)}</code>, <code>{esc(fig.pdf.name)}</code>)</figcaption>"
        "</figure>"
    )


def badge(status: str) -> str:
    return f'<span class="badge {esc(status)}">{esc(status)}</span>'


def task_section(
    analysis: Analysis, index: int, task: TaskStats, figures: Sequence[FigureFile]
) -> str:
    lead = task.lead
    tone = (
        "" if lead is None or lead.significant is None else ("good" if lead.significant else "warn")
    )
    rows = display_rows(task, analysis.target)
    classes = ["best" if g is task.best else "" for g in compared(task)]
    cells = [[esc(c) for c in row] for row in rows]
    columns = headers(analysis)
    return "\n".join(
        [
            f'<h2 id="task-{index}">{esc(task.task.label)}</h2>',
            f'<div class="callout {tone}">{esc(lead_sentence(lead, analysis.metric))}</div>',
            table(columns, cells, classes, numeric=range(1, len(columns) - 1)),
            not_compared_section(analysis, task),
            *(figure(f) for f in figures),
        ]
    )


def not_compared_section(analysis: Analysis, task: TaskStats) -> str:
    """Groups without a completed run (pruned trials, diverged settings), apart from the
    results: how far their runs got and the last value they logged."""
    missing = not_compared(task)
    if not missing:
        return ""
    rows = []
    for g in missing:
        steps = [r.global_step for r in g.group.runs if r.global_step is not None]
        last = [v for r in g.group.runs if (v := r.value(analysis.metric)) is not None]
        rows.append(
            [
                esc(g.label),
                " ".join(
                    f"{g.status_counts[s]} {badge(s)}" for s in STATUSES if g.status_counts[s]
                ),
                str(max(steps)) if steps else "—",
                num(last[-1]) if last else "—",
            ]
        )
    counts = Counter(r.status for g in missing for r in g.group.runs)
    return "\n".join(
        [
            f"<h3>Without a completed run: {len(missing)} group{'s' if len(missing) > 1 else ''} "
            "(runs: "
            + esc(", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]))
            + ")</h3>",
            "<p>Not in the comparison above; every run is listed under "
            '<a href="#runs">all runs</a>.</p>',
            table(
                ["group", "runs", "steps reached", f"last {analysis.metric}"],
                rows,
                numeric=(2, 3),
            ),
        ]
    )


def profile_section(profile: Profile, figures: Sequence[FigureFile]) -> str:
    columns = ["method", *profile.tasks, f"AlgoPerf score (τ_max = {stats.ALGOPERF_TAU_MAX:g})"]
    rows = []
    for method in sorted(profile.methods, key=lambda m: -profile.scores[m]):
        times = [profile.times[t].get(method) for t in profile.tasks]
        ratios = profile.ratios[method]
        rows.append(
            [esc(method)]
            + [
                "not reached" if t is None else f"{t:.0f} (ratio {r:.2f})"
                for t, r in zip(times, ratios, strict=True)
            ]
            + [f"{profile.scores[method]:.3f}"]
        )
    return "\n".join(
        [
            '<h2 id="profile">Performance profile across tasks</h2>',
            "<p>Time is the median steps to the target over seeds. &rho;(&tau;) is the "
            "fraction of tasks on which a method needs at most &tau; times the steps of the "
            "fastest method on that task; a method that never reaches the target on a task has "
            "ratio &infin; there. The score is the area under &rho; on [1, &tau;<sub>max</sub>] "
            "divided by &tau;<sub>max</sub> &minus; 1 (1 = fastest everywhere).</p>",
            table(columns, rows, numeric=range(1, len(columns))),
            *(figure(f) for f in figures),
        ]
    )


def _present(value: float | str) -> float | None:
    return None if value == "" else float(value)


def runs_section(analysis: Analysis) -> str:
    rows, classes = [], []
    for row in run_rows(analysis):
        classes.append("" if row["status"] == "completed" else "bad")
        reason = f"<br><small>{esc(row['reason'])}</small>" if row["reason"] else ""
        rows.append(
            [
                esc(row["group"])
                + (f"<br><small>{esc(row['task'])}</small>" if len(analysis.tasks) > 1 else ""),
                badge(row["status"]) + reason,
                esc(row["seed"]),
                num(_present(row["final"])),
                num(_present(row["best"])),
                esc(f"{row['steps_to_target']:.0f}" if row["steps_to_target"] != "" else "—"),
                f"<code>{esc(row['path'] or 'trial ' + str(row['trial']))}</code>",
            ]
        )
    counts = Counter(r.status for r in analysis.runs)
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    columns = ["group", "status", "seed", "final", "best", "steps to target", "folder"]
    return "\n".join(
        [
            '<h2 id="runs">All runs</h2>',
            f"<p>{len(analysis.runs)} runs: {esc(summary)}. Only completed runs enter the "
            "statistics; the others are listed here, and those with values logged in files "
            "that could be read are drawn dashed in the curves.</p>",
            table(columns, rows, classes, numeric=(2, 3, 4, 5)),
        ]
    )


def reproduce_section(analysis: Analysis, sources: Sequence[Source]) -> str:
    grouping = analysis.grouping
    source_rows = [
        [
            esc(s.kind),
            f"<code>{esc(s.location)}</code>",
            str(s.runs),
            f"<pre>{esc(s.command)}</pre>" + (f"<small>in {esc(s.cwd)}</small>" if s.cwd else ""),
        ]
        for s in sources
    ]
    role = {k: "group" for k in grouping.group_keys} | {k: "task" for k in grouping.task_keys}
    diff_rows = [
        [
            f"<code>{esc(k)}</code>",
            role.get(k, "class-specific"),
            esc(", ".join(format_value(v) for v in vs)),
        ]
        for k, vs in grouping.differing.items()
    ]
    common = "\n".join(f"{k}: {format_value(v)}" for k, v in grouping.common.items())
    commits = sorted({str(r.git_commit) for r in analysis.runs if r.git_commit})
    versions = next((r.versions for r in analysis.runs if r.versions), {})
    return "\n".join(
        [
            '<h2 id="reproduce">How these runs were produced</h2>',
            table(["kind", "where", "runs", "command"], source_rows, numeric=(2,)),
            "<h3>Config keys that differ between runs</h3>",
            "<p>Keys marked <i>group</i> define what is compared (<code>--group-by "
            f"{esc(','.join(grouping.prefixes))}</code>); keys marked <i>task</i> define "
            "separate comparisons; <i>class-specific</i> keys exist only for some classes (SGD has "
            "no beta1). Seeds, paths, loggers and trial bookkeeping are ignored.</p>",
            table(["key", "role", "values"], diff_rows) if diff_rows else "<p>None.</p>",
            f"<details><summary>Settings shared by all runs ({len(grouping.common)})</summary>"
            f"<pre>{esc(common)}</pre></details>",
            f"<p>Code: {esc(', '.join(commits) or 'unknown commit')}. Versions: "
            f"{esc(', '.join(f'{k} {v}' for k, v in versions.items()) or 'unknown')}.</p>",
        ]
    )


def render(
    analysis: Analysis,
    task_figures: Sequence[Sequence[FigureFile]],
    profile_figures: Sequence[FigureFile],
    sources: Sequence[Source],
    title: str,
) -> str:
    direction = "higher is better" if analysis.higher_is_better else "lower is better"
    target = f", target {analysis.target:g}" if analysis.target is not None else ""
    nav = "".join(
        f'<a href="#task-{i}">{esc(t.task.label)}</a>' for i, t in enumerate(analysis.tasks, 1)
    )
    if analysis.profile:
        nav += '<a href="#profile">profile</a>'
    nav += (
        '<a href="#runs">runs</a><a href="#reproduce">reproduce</a><a href="#methods">methods</a>'
    )
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">{esc(metric_label(analysis.metric))} ({esc(analysis.metric)}, '
        f"{direction}{esc(target)}) · {len(analysis.runs)} runs in "
        f"{len(analysis.tasks)} task(s) · generated {datetime.now():%Y-%m-%d %H:%M}</p>",
        f"<nav>{nav}</nav>",
    ]
    bad = [r for r in analysis.runs if r.status != "completed"]
    if bad:
        counts = Counter(r.status for r in bad)
        body.append(
            '<div class="callout warn">'
            + esc(", ".join(f"{n} {s}" for s, n in counts.items()))
            + ' run(s) are not in the statistics: see <a href="#runs">all runs</a>.</div>'
        )
    for i, (task, figures) in enumerate(zip(analysis.tasks, task_figures, strict=True), 1):
        body.append(task_section(analysis, i, task, figures))
    if analysis.profile:
        body.append(profile_section(analysis.profile, profile_figures))
    body += [
        runs_section(analysis),
        reproduce_section(analysis, sources),
        '<h2 id="methods">Methods</h2>',
        f"<p>{esc(methods_note(analysis.target))}</p>",
        "<p>Curves: the mean over completed seeds at each logged step, shaded with a 95% "
        f"percentile bootstrap interval ({stats.CURVE_RESAMPLES:,} resamples). Steps count "
        "optimizer steps completed; the training loss by step is the mean over each "
        "logging window.</p>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
