"""The benchmark report as a W&B report spec (wandb-workspaces, built offline): the summary
tables, and the final runs' validation curves grouped by optimizer when they logged to W&B."""

from __future__ import annotations

from typing import Any

from research.leaderboard.analysis import Analysis
from research.leaderboard.output import METHODS


def build_report(analysis: Analysis, entity: str, project: str, summary_md: str) -> Any:
    import wandb_workspaces.reports.v2 as wr

    metrics = sorted({w.metric for w in analysis.bench.workloads})
    runset = wr.Runset(name="final runs", groupby=["config.optimizer._target_"])
    curves = [
        wr.LinePlot(title=m, x="epoch", y=[m], groupby_aggfunc="mean",
                    groupby_rangefunc="stderr", aggregate=True)
        for m in metrics
    ]  # fmt: skip
    blocks = [
        wr.H1(f"Benchmark {analysis.bench.name}"),
        wr.MarkdownBlock(text=summary_md),
        wr.H2("Validation curves of the final runs, by optimizer"),
        wr.PanelGrid(runsets=[runset], panels=curves),
        wr.P(METHODS),
    ]
    return wr.Report(
        entity=entity,
        project=project,
        title=f"Benchmark {analysis.bench.name}",
        blocks=blocks,
        description="python -m research.leaderboard",
    )
