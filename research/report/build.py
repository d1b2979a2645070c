"""The pipeline behind `python -m research.report`: discover -> load -> group -> analyse ->
figures -> writers. Returns what it wrote, so tests can check the files against the runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from research.report.analysis import Analysis, analyze
from research.report.discover import RunRef, Study, discover
from research.report.errors import ReportError
from research.report.grouping import group_runs
from research.report.load import NOT_FINISHED, STATUSES, Run, load_runs
from research.report.metrics import metric_label

if TYPE_CHECKING:
    from research.report.figures import FigureFile


@dataclass
class Options:
    inputs: Sequence[Path]
    out: Path
    studies: Sequence[Study] = ()
    metric: str = "val/acc"
    group_by: Sequence[str] = ("optimizer",)
    target: float | None = None
    higher_is_better: bool | None = None
    title: str | None = None
    wandb_entity: str | None = None
    wandb_project: str | None = None
    refs: Sequence[RunRef] | None = None  # the runs already found (one sweep of several)


@dataclass
class Outputs:
    analysis: Analysis
    files: list[Path] = field(default_factory=list)
    figures: list[FigureFile] = field(default_factory=list)


class NothingToCompare(ReportError):
    """No run has results to compare yet (all unfinished, unreadable or without a folder):
    the runs come along so that an index can list them with their reasons."""

    def __init__(self, message: str, runs: Sequence[Run]) -> None:
        super().__init__(message)
        self.runs = list(runs)


def status_counts(runs: Sequence[Run]) -> str:
    """'2 unfinished, 1 unreadable', in the order of STATUSES."""
    counts = Counter(r.status for r in runs)
    return ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])


def check_metric(runs: Sequence[Run], metric: str) -> None:
    available = set().union(*(r.metric_names for r in runs))
    if metric in available:
        return
    if all(r.status in NOT_FINISHED for r in runs):
        unreadable = any(r.status == "unreadable" for r in runs)
        what = "no readable finished run" if unreadable else "no finished run yet"
        raise NothingToCompare(f"{what}: {status_counts(runs)}", runs)
    raise ReportError(
        f"unknown metric {metric!r}: these runs log "
        + (", ".join(sorted(available)) or "nothing yet")
    )


def task_figures(analysis: Analysis, out: Path, colors: dict) -> list[list]:
    from research.report.figures import save
    from research.report.figures.beta_scatter import beta_scatter
    from research.report.figures.curves import final_values, learning_curves, left_out
    from research.report.figures.search import (
        beta_heatmap,
        betas,
        find_key,
        is_continuous,
        lr_sensitivity,
        sensitivity_families,
    )

    keys = analysis.grouping.group_keys
    lr_key = find_key(keys, "lr", "learning_rate")
    name = metric_label(analysis.metric, unit=False)
    every = []
    for i, task in enumerate(analysis.tasks, 1):
        suffix = f"-task{i}" if len(analysis.tasks) > 1 else ""
        figures = [
            save(
                learning_curves(task, colors, analysis.target),
                out,
                f"learning_curves{suffix}",
                "Learning curves",
                f"Training loss and {name} by optimizer step (left) and by epoch (right); "
                f"mean over completed seeds, shaded 95% bootstrap CI{left_out(task)}.",
            ),
            save(
                final_values(task, analysis.metric, colors),
                out,
                f"final{suffix}",
                f"Final {name}",
                "Mean and 95% bootstrap CI per group; dots are seeds; ★ marks the best group.",
            ),
        ]
        if lr_key and sensitivity_families(task, keys, lr_key)[0]:
            figures.append(
                save(
                    lr_sensitivity(task, analysis.metric, keys, lr_key, colors),
                    out,
                    f"lr_sensitivity{suffix}",
                    "Learning-rate sensitivity",
                    f"Final {name} against the learning rate, for the optimizers run at "
                    "several; x marks runs that did not complete.",
                )
            )
        sampled = [(b, g) for g in task.groups if (b := betas(g.group.settings, keys))]
        pairs = [b for b, g in sampled if g.final.n]
        if pairs and is_continuous([b for b, _ in sampled]):
            figures.append(
                save(
                    beta_scatter(task, analysis.metric, keys, analysis.higher_is_better),
                    out,
                    f"beta_scatter{suffix}",
                    "β₁ and β₂",
                    f"Final {name} of every sampled (β₁, β₂), mean over seeds; grey crosses: "
                    "configurations without a completed run (pruned, failed).",
                )
            )
        elif len({p[0] for p in pairs}) > 1 and len({p[1] for p in pairs}) > 1:
            figures.append(
                save(
                    beta_heatmap(task, analysis.metric, keys, analysis.higher_is_better),
                    out,
                    f"beta_heatmap{suffix}",
                    "β₁ and β₂",
                    f"Final {name} over β₁ and β₂: per cell the best group mean over the "
                    "other hyperparameters.",
                )
            )
        every.append(figures)
    return every


def compare(options: Options) -> tuple[list[Run], Analysis]:
    """All the numbers of the report, no figures or files: discover, load, group, analyse."""
    refs = options.refs if options.refs is not None else discover(options.inputs, options.studies)
    runs = load_runs(refs, options.metric)
    check_metric(runs, options.metric)
    grouping = group_runs(runs, options.group_by)
    return runs, analyze(grouping, options.metric, options.target, options.higher_is_better)


def build(options: Options) -> Outputs:
    from research.report import html, provenance, tables
    from research.report.figures import save
    from research.report.figures.colors import report_palette
    from research.report.figures.profile import performance_profile

    runs, analysis = compare(options)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    colors = report_palette(analysis)
    per_task = task_figures(analysis, out, colors)
    profile_figures = []
    if analysis.profile:
        profile_figures.append(
            save(
                performance_profile(analysis.profile, colors),
                out,
                "performance_profile",
                "Performance profile",
                "Fraction of tasks on which each method reaches the "
                "target within τ times the fewest steps of any method.",
            )
        )
    title = options.title or f"Optimizer comparison on {metric_label(options.metric, unit=False)}"
    summary_md = tables.markdown(analysis)
    written = {
        "summary.csv": None,
        "runs.csv": None,
        "summary.md": summary_md,
        "summary.tex": tables.latex(analysis),
        "report.html": html.render(
            analysis, per_task, profile_figures, provenance.sources(runs), title
        ),
    }
    tables.write_csv(out / "summary.csv", tables.summary_rows(analysis))
    tables.write_csv(out / "runs.csv", tables.run_rows(analysis))
    for name, text in written.items():
        if text is not None:
            (out / name).write_text(text, encoding="utf-8")
    files = [out / name for name in written]
    files += [
        f for figs in [*per_task, profile_figures] for fig in figs for f in (fig.png, fig.pdf)
    ]
    if options.wandb_entity and options.wandb_project:
        from research.report.wandb_spec import build_report, to_json

        report = build_report(
            analysis, options.wandb_entity, options.wandb_project, title, summary_md
        )
        (out / "wandb_report.json").write_text(to_json(report), encoding="utf-8")
        files.append(out / "wandb_report.json")
    return Outputs(analysis, files, [f for figs in [*per_task, profile_figures] for f in figs])
