"""The comparison as a W&B report (wandb-workspaces), built and serialised without a network.

wandb-workspaces looks a runset's project up online when it serialises one, so runsets are
built without entity/project and the project is written into the serialised spec afterwards;
`read_report` turns the file back into a `Report`, and `publish` saves that when online.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from research.report.analysis import Analysis
from research.report.figures.search import find_key
from research.report.metrics import TRAIN_LOSS_STEP, metric_label
from research.report.tables import lead_sentence, methods_note

STEP = "trainer/global_step"  # the step metric Lightning's WandbLogger logs against
PUBLISH_TIMEOUT_S = 120.0


class PublishError(RuntimeError):
    """The report could not be saved to W&B (offline, not logged in, or too slow)."""


def build_report(analysis: Analysis, entity: str, project: str, title: str, summary_md: str) -> Any:
    import wandb_workspaces.reports.v2 as wr

    ids = sorted({i for run in analysis.runs for i in run.wandb_ids})
    group_keys = analysis.grouping.group_keys
    runset = wr.Runset(
        name="runs in this report",
        filters=f"ID in {ids!r}" if ids else "",
        groupby=[f"config.{k}" for k in group_keys],
    )
    grouped = {"groupby_aggfunc": "mean", "groupby_rangefunc": "stderr", "aggregate": True}
    curves = [
        wr.LinePlot(
            title="training loss",
            x=STEP,
            y=[TRAIN_LOSS_STEP],
            title_x="optimizer step",
            title_y=metric_label(TRAIN_LOSS_STEP),
            log_y=True,
            **grouped,
        ),
        wr.LinePlot(
            title=metric_label(analysis.metric, unit=False),
            x=STEP,
            y=[analysis.metric],
            title_x="optimizer step",
            title_y=metric_label(analysis.metric),
            **grouped,
        ),
        wr.LinePlot(
            title=f"{metric_label(analysis.metric, unit=False)} by epoch",
            x="epoch",
            y=[analysis.metric],
            title_x="epoch",
            title_y=metric_label(analysis.metric),
            **grouped,
        ),
    ]
    keys = list(analysis.grouping.differing) + list(analysis.grouping.common)
    hyper = [k for k in (find_key(keys, n) for n in ("lr", "beta1", "beta2")) if k]
    columns = [
        wr.ParallelCoordinatesPlotColumn(
            metric=wr.Config(k), display_name=k.rsplit(".", 1)[-1], log=k.endswith(".lr") or None
        )
        for k in hyper
    ] + [wr.ParallelCoordinatesPlotColumn(metric=wr.SummaryMetric(analysis.metric))]
    blocks = [
        wr.P(" ".join(lead_sentence(t.lead, analysis.metric) for t in analysis.tasks)),
        wr.H2("Learning curves, grouped by " + ", ".join(group_keys or ["run"])),
        wr.PanelGrid(runsets=[runset], panels=curves),
        wr.H2("Hyperparameters against the metric"),
        wr.PanelGrid(
            runsets=[runset],
            panels=[wr.ParallelCoordinatesPlot(columns=columns, title="parallel coordinates")],
        ),
        wr.H2("Summary"),
        wr.MarkdownBlock(text=summary_md),
        wr.P(methods_note(analysis.target)),
    ]
    return wr.Report(
        entity=entity,
        project=project,
        title=title[:128],
        blocks=blocks,
        description=f"Comparison on {analysis.metric}, by python -m research.report",
    )


def to_json(report: Any) -> str:
    """The report's W&B view spec as JSON, with each runset pointing at the report's project."""
    from wandb_workspaces.reports.v2 import internal

    model = report._to_model()
    for block in model.spec.blocks:
        if isinstance(block, internal.PanelGrid):
            for runset in block.metadata.run_sets:
                runset.project = internal.Project(entity_name=report.entity, name=report.project)
    return model.model_dump_json(by_alias=True, exclude_none=True, indent=1)


def read_report(path: Path) -> Any:
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces.reports.v2 import internal

    return wr.Report._from_model(internal.ReportViewspec.model_validate_json(path.read_text()))


def publish(path: Path, timeout_s: float = PUBLISH_TIMEOUT_S) -> str:
    """Save the serialised report to W&B; returns its URL. Never waits longer than timeout_s."""
    from research.tracking.wandb_logger import wandb_reachable

    if not wandb_reachable():
        raise PublishError(f"W&B is unreachable: {path} is written; rerun with --publish online")
    report = read_report(path)
    outcome: dict[str, Any] = {}

    def save() -> None:
        try:
            report.save()
            outcome["url"] = report.url
        except Exception as error:  # the cloud's errors vary; all mean "not published"
            outcome["error"] = error

    worker = threading.Thread(target=save, daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise PublishError(f"saving the report to W&B took over {timeout_s:.0f} s: gave up")
    if "error" in outcome:
        raise PublishError(f"W&B refused the report: {outcome['error']}")
    return str(outcome["url"])
