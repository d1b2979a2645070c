"""A config group's option that does not exist, said in one line before Hydra composes.

Hydra answers `optimizer=adamm` with some twenty lines (every option, its config search path,
a hint about HYDRA_FULL_ERROR). A misspelled option is the most common mistake on the command
line, so the entry points check `group=option` overrides against the files of `conf/<group>/`
first, and name the options there.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "conf"
SWEEP_FUNCTION = re.compile(r"^\w+\(")  # choice(...), range(...): left to Hydra


def options(group: Path) -> list[str]:
    """The options of a group: its yaml files, those in subfolders as `folder/name`."""
    return sorted(str(p.relative_to(group).with_suffix("")) for p in group.rglob("*.yaml"))


def config_dirs(arguments: list[str]) -> list[Path] | None:
    """The folders `--config-dir`/`-cd` add to conf/; None when the command changes where
    configs come from in a way this check cannot follow (`--config-path`, a search path)."""
    dirs = []
    for i, argument in enumerate(arguments):
        name, _, value = argument.partition("=")
        if name in ("--config-path", "-cp") or name.startswith("hydra.searchpath"):
            return None
        if name in ("--config-dir", "-cd"):
            dirs.append(Path(value or (arguments[i + 1] if i + 1 < len(arguments) else "")))
    return dirs


def unknown_option(arguments: Iterable[str], conf: Path = CONF) -> str | None:
    """The line naming the first `group=option` (or `group=a,b` in a sweep) whose option has
    no file in `conf/<group>/` (nor in a `--config-dir`); None when every one has."""
    arguments = list(arguments)
    extra = config_dirs(arguments)
    if extra is None:
        return None
    for override in arguments:
        key, sep, value = override.partition("=")
        if not sep or not value or not re.fullmatch(r"\w+", key) or SWEEP_FUNCTION.match(value):
            continue  # a value (`a.b=`), an addition (`+`), a deletion (`~`), Hydra's own groups
        group = conf / key
        if not group.is_dir():
            continue
        for choice in (c.strip() for c in value.split(",")):
            if choice == "null" or any(
                (d / key / f"{choice}.yaml").is_file() for d in [conf, *extra]
            ):
                continue
            return (
                f"{key}={choice} is invalid: must be one of {', '.join(options(group))} "
                f"(the files in conf/{key}/)"
            )
    return None


def refuse_unknown_option(arguments: list[str]) -> None:
    """For an entry point, before Hydra runs: the one line and exit status 2 of a bad option."""
    if problem := unknown_option(arguments):
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
