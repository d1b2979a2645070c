"""`python -m research.leaderboard BENCHMARK_DIR [--out DIR]`: the benchmark's statistics,
figures, HTML report and (with --wandb-entity/--wandb-project) W&B report spec, computed from
the benchmark's studies and runs alone. `python -m research.benchmark` runs it at its end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from research.report.errors import ReportError

if TYPE_CHECKING:
    from research.leaderboard.analysis import Analysis


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m research.leaderboard", description=__doc__)
    p.add_argument("benchmark_dir", type=Path, help="the out_dir of a benchmark (benchmark.json)")
    p.add_argument("--out", type=Path, help="output folder (default: BENCHMARK_DIR/report)")
    p.add_argument("--wandb-entity", help="also write wandb_report.json for this entity")
    p.add_argument("--wandb-project", help="... and project")
    return p


def build(benchmark_dir: Path, out: Path, entity: str | None, project: str | None) -> Path:
    from research.leaderboard.analysis import analyze
    from research.leaderboard.load import load

    return write_report(analyze(load(benchmark_dir)), out, entity, project)


def write_report(
    analysis: Analysis, out: Path, entity: str | None = None, project: str | None = None
) -> Path:
    """The report's files from an analysis already made (scripts that also need its tables)."""
    from research.leaderboard import figures, output
    from research.report.figures import palette, save

    out.mkdir(parents=True, exist_ok=True)
    for t in analysis.tables.values():
        output.write_csv(t, out)
    colors = palette(analysis.bench.optimizers)
    made = [
        save(figures.budget_curves(analysis, colors), out, "budget_curves",
             "Expected best validation result against the tuning budget",
             "per workload, k = 1..K trials, 95% bootstrap band"),
        save(figures.tuned_vs_default(analysis, colors), out, "tuned_vs_default",
             "Final test metric, tuned (filled) and at defaults (open)", "one dot per seed"),
        save(figures.iqm_intervals(analysis, colors), out, "iqm",
             "Interquartile mean across workloads", "stratified bootstrap 95% CI"),
        save(figures.performance_profile(analysis, colors), out, "performance_profile",
             "Performance profile of the tuned optimizers", "steps to target"),
    ]  # fmt: skip
    summary = output.summary_md(analysis)
    (out / "summary.md").write_text(summary)
    (out / "targets.yaml").write_text(output.targets_text(analysis))
    (out / "report.html").write_text(output.render_html(analysis, made))
    if entity and project:
        from research.leaderboard.wandb_spec import build_report
        from research.report.wandb_spec import to_json

        report = build_report(analysis, entity, project, summary)
        (out / "wandb_report.json").write_text(to_json(report))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if bool(args.wandb_entity) != bool(args.wandb_project):
        print("error: give both --wandb-entity and --wandb-project, or neither", file=sys.stderr)
        return 2
    try:
        out = build(
            args.benchmark_dir.absolute(),
            (args.out or args.benchmark_dir / "report").absolute(),
            args.wandb_entity,
            args.wandb_project,
        )
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Benchmark report: {out / 'report.html'} (tables as CSV, summary.md, targets.yaml)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
