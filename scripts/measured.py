"""A benchmark script's table as a Markdown file for the docs (`--markdown [PATH]`).

The pages include these files (`scripts/docs/measured/<name>.md`, pymdownx.snippets), so no
measured number is typed into the docs. The file's first line, an HTML comment the page does
not show, names the command that wrote it and when: rerun that command to update it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ROOT / "scripts" / "docs" / "measured"


def add_option(parser: argparse.ArgumentParser, name: str) -> None:
    """`--markdown [PATH]`: also write the table to PATH, by default the docs' file."""
    parser.add_argument(
        "--markdown",
        nargs="?",
        type=Path,
        const=MEASURED / f"{name}.md",
        metavar="PATH",
        help=f"also write the table as Markdown (default: scripts/docs/measured/{name}.md)",
    )


def command_line() -> str:
    """This process's command as typed from the repository root (OMP_NUM_THREADS included), a
    storage URL's password masked."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    threads = os.environ.get("OMP_NUM_THREADS")
    prefix = [f"OMP_NUM_THREADS={threads}"] if threads else []
    return shlex.join([*prefix, "python", str(shown), *map(_shown, sys.argv[1:])])


def _shown(argument: str) -> str:
    """An argument as the docs may show it: a storage URL's password masked, by the sweeper's
    own rule (imported only here, where a URL is written)."""
    if "://" not in argument:
        return argument
    from research.sweep.storage import masked

    name, sep, value = argument.partition("=")
    return masked(argument) if "://" in name else f"{name}{sep}{masked(value)}"


def write(path: Path | None, table: Sequence[str]) -> None:
    """The table under a header naming the command that measured it (nothing without PATH)."""
    if path is None:
        return
    day = datetime.date.today().isoformat()
    header = f"<!-- measured by `{command_line()}` on {day}: rerun it to update this file -->"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, "", *table]) + "\n")
    print(f"table written to {path}")
