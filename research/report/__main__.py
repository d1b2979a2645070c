"""`python -m research.report RUN_OR_SWEEP_DIR... --out report/`: see `--help`.

Each sweep (multirun folder, Optuna study; loose single runs count as one) is reported on its
own, under OUT/<sweep>/ with an index in OUT/report.html, unless `--pool` merges them.

Settings the command line leaves out come from the `report:` node of the experiment that made
the runs, then from the defaults below. Runs whose files cannot be read are listed as unreadable,
with the reason. Of several sweeps, one that cannot be reported (nothing finished yet, a metric
it does not log) is skipped: a warning on stderr names its folder, the index lists it with the
reason, and the others are reported. Exit codes: 0 written (skipped sweeps included); 1 written
but not published to W&B; 2 bad input or nothing reported (one line on stderr naming the
folder or what is wrong, and what is allowed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from research.report.errors import ReportError

if TYPE_CHECKING:
    from research.report.build import Options, Outputs
    from research.report.sweeps import Sweep

EPILOG = """examples:
  python -m research.report multirun/2026-11-21/12-00-00 --out report/
  python -m research.report multirun/ --out report/          # one sub-report per sweep
  python -m research.report multirun/ --pool --out report/   # all sweeps as one comparison
  python -m research.report multirun/ outputs/ --metric val/loss --target 0.2 --out report/
  python -m research.report --study sqlite:///optuna.db adam_betas_lr --out report/
  python -m research.report multirun/ --out report/ --wandb-entity me --wandb-project opt

Offline W&B runs can be uploaded with scripts/wandb_sync.sh FOLDER (time-limited)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m research.report",
        description="Compare optimizers across runs, sweeps and Optuna studies: statistics over "
        "seeds, figures, paper tables, a self-contained HTML report and a W&B report spec.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs",
        nargs="*",
        type=Path,
        help="run folders or sweep folders (searched recursively for runs)",
    )
    p.add_argument(
        "--study",
        nargs=2,
        action="append",
        default=[],
        metavar=("STORAGE", "NAME"),
        help="an Optuna study: storage URL (or journal file) and study name; repeatable",
    )
    p.add_argument("--out", type=Path, default=Path("report"), help="output folder (report/)")
    p.add_argument(
        "--metric", help="metric to compare (the experiment's `report.metric`, else val/acc)"
    )
    p.add_argument(
        "--group-by",
        help="comma-separated config keys or prefixes whose differing values define "
        "the groups, or 'all' (the experiment's `report.group_by`, else optimizer)",
    )
    p.add_argument(
        "--target", type=float, help="metric value for steps-to-target and the performance profile"
    )
    direction = p.add_mutually_exclusive_group()
    direction.add_argument(
        "--maximize",
        dest="higher",
        action="store_true",
        default=None,
        help="higher metric is better (default for names with 'acc')",
    )
    direction.add_argument(
        "--minimize",
        dest="higher",
        action="store_false",
        help="lower metric is better (default otherwise)",
    )
    p.add_argument(
        "--pool",
        action="store_true",
        help="compare the runs of all sweeps as one experiment (default: one report per "
        "sweep, with an index in OUT/report.html)",
    )
    p.add_argument("--title", help="report title")
    p.add_argument("--wandb-entity", help="W&B entity for wandb_report.json")
    p.add_argument("--wandb-project", help="W&B project for wandb_report.json")
    p.add_argument(
        "--publish",
        action="store_true",
        help="save the W&B report to the cloud (needs a network and a login; time-limited)",
    )
    return p


def build_each_sweep(
    options: Options, given: set[str], pool: bool
) -> list[tuple[Sweep, Outputs | ReportError]]:
    """One report per sweep, each with the settings of the experiment that made it, under
    OUT/<sweep>/ when there are several; one report of all runs with `pool`. A sweep that
    cannot be reported comes back with the reason instead of its outputs."""
    from research.report.build import build
    from research.report.discover import discover
    from research.report.metrics import metric_label
    from research.report.settings import experiment_settings, with_settings
    from research.report.sweeps import pooled, split_sweeps

    refs = discover(options.inputs, options.studies)
    sweeps = [pooled(refs, options.inputs)] if pool else split_sweeps(refs, options.inputs)
    built: list[tuple[Sweep, Outputs | ReportError]] = []
    for sweep in sweeps:
        try:
            one = with_settings(
                replace(options, refs=sweep.refs), given, experiment_settings(sweep.refs)
            )
            if len(sweeps) > 1:
                title = one.title or f"{sweep.name}: {metric_label(one.metric, unit=False)}"
                one = replace(one, out=options.out / sweep.folder, title=title)
            built.append((sweep, build(one)))
        except ReportError as error:
            built.append((sweep, error))
    if all(isinstance(outcome, ReportError) for _, outcome in built):
        raise ReportError("; ".join(f"{sweep.name}: {error}" for sweep, error in built))
    return built


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.inputs and not args.study:
        parser().error("give at least one run or sweep folder, or --study STORAGE NAME")
    if bool(args.wandb_entity) != bool(args.wandb_project):
        parser().error("--wandb-entity and --wandb-project go together")
    if args.publish and not args.wandb_project:
        parser().error("--publish needs --wandb-entity and --wandb-project")
    from research.report.build import Options, status_counts
    from research.report.discover import Study
    from research.report.settings import key_list

    given = {
        name
        for name, value in (
            ("metric", args.metric),
            ("group_by", args.group_by),
            ("target", args.target),
            ("higher_is_better", args.higher),
            ("title", args.title),
        )
        if value is not None
    }
    options = Options(
        inputs=args.inputs,
        out=args.out,
        studies=[Study(storage, name) for storage, name in args.study],
        metric=args.metric or Options.metric,
        group_by=key_list(args.group_by or "optimizer"),
        target=args.target,
        higher_is_better=args.higher,
        title=args.title,
        wandb_entity=args.wandb_entity,
        wandb_project=args.wandb_project,
    )
    try:
        every = build_each_sweep(options, given, args.pool)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    built = [(sweep, outcome) for sweep, outcome in every if not isinstance(outcome, Exception)]
    for sweep, outcome in every:
        if isinstance(outcome, Exception):
            print(f"warning: {sweep.name}: not reported: {outcome}", file=sys.stderr)
            continue
        runs, page = outcome.analysis.runs, outcome.files[0].parent / "report.html"
        print(
            f"{sweep.name + ': ' if len(every) > 1 else ''}{len(runs)} runs "
            f"({status_counts(runs)}) in {len(outcome.analysis.tasks)} task(s); wrote {page} "
            f"and {len(outcome.files) - 1} more files"
        )
    if len(every) > 1:
        from research.report.index import render_index

        index = args.out / "report.html"
        index.write_text(render_index(every, args.title or "Sweeps"), encoding="utf-8")
        skipped = len(every) - len(built)
        print(
            f"wrote {index}: {len(built)} sweep{'s' if len(built) > 1 else ''}, each reported "
            "apart (--pool merges them)" + (f"; {skipped} not reported" if skipped else "")
        )
    if any(r.wandb_ids for _, outputs in built for r in outputs.analysis.runs):
        print("offline W&B runs found: upload them with scripts/wandb_sync.sh FOLDER")
    if args.publish:
        from research.report.wandb_spec import PublishError, publish

        try:
            for _, outputs in built:
                print(f"published: {publish(outputs.files[0].parent / 'wandb_report.json')}")
        except PublishError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
