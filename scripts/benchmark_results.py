"""The benchmark results the docs show, written from a finished benchmark's folder.

Makes the benchmark's own report (the files of `python -m research.leaderboard`) of
BENCHMARK_DIR, analysed once, and keeps what the documentation shows: each summary table as
its own Markdown file (the results page includes them), the CSVs behind them (the site serves
them), `summary.md`, and the figures as PNGs reduced to a 256-colour palette (a few hundred KB
for four figures). Nothing is retyped.

    python scripts/benchmark_results.py benchmarks/small_all
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

from PIL import Image

from research.leaderboard import output
from research.leaderboard.__main__ import write_report
from research.leaderboard.analysis import Analysis, analyze
from research.leaderboard.load import load
from research.report.errors import ReportError

RESULTS = Path(__file__).resolve().parent / "docs" / "pages" / "results"
KEPT = ("*.csv", "summary.md", "targets.yaml")


def table_files(analysis: Analysis, out: Path, command: str) -> None:
    """One Markdown file per summary table, each saying which command wrote it."""
    tables = {"budget_at_k": output.budget_markdown(analysis)}
    tables |= {name: output.markdown(analysis.tables[name]) for name in output.SUMMARY_TABLES}
    for name, text in tables.items():
        (out / f"{name}.md").write_text(f"<!-- written by `{command}`: do not edit -->\n\n{text}\n")


def small_png(source: Path, target: Path) -> None:
    """The figure in 256 colours: lines and text on white lose nothing a reader sees."""
    with Image.open(source) as image:
        image.convert("RGB").quantize(256).save(target, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark_dir", type=Path, help="the out_dir of a finished benchmark")
    parser.add_argument("--out", type=Path, help="default: scripts/docs/pages/results/<its name>")
    args = parser.parse_args()
    out = args.out or RESULTS / args.benchmark_dir.resolve().name
    try:
        analysis = analyze(load(args.benchmark_dir.absolute()))
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with TemporaryDirectory() as scratch:
        report = write_report(analysis, Path(scratch))
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for pattern in KEPT:
            for path in report.glob(pattern):
                shutil.copy(path, out / path.name)
        for png in report.glob("*.png"):
            small_png(png, out / png.name)
    table_files(analysis, out, f"python scripts/benchmark_results.py {args.benchmark_dir}")
    print(f"benchmark results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
