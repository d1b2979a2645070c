"""Which sweep each run belongs to, so that `python -m research.report multirun/` reports every
sweep on its own (one sub-report each) instead of merging sweeps that compare different things
into one table and one performance profile. `--pool` merges them on purpose."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from research.report.discover import RunRef
from research.report.provenance import MULTIRUN_YAML

SINGLE_RUNS = "single runs"


@dataclass(frozen=True)
class Sweep:
    """A multirun folder, an Optuna study, or the runs that belong to neither."""

    name: str  # what the index shows: the sweep folder, "study NAME", or "single runs in DIR"
    folder: str  # the sub-report's folder name under --out
    refs: tuple[RunRef, ...]


def sweep_dir(path: Path) -> Path | None:
    """The nearest folder at or above a run folder's parent that holds Hydra's multirun.yaml."""
    for folder in [path.parent, *path.parent.parents]:
        if (folder / MULTIRUN_YAML).is_file():
            return folder
    return None


def _key(ref: RunRef) -> str:
    if ref.study is not None:
        return f"study {ref.study.name}"
    sweep = sweep_dir(ref.path.resolve()) if ref.path is not None else None
    return str(sweep) if sweep is not None else SINGLE_RUNS


def _relative(sweep: str, roots: Sequence[Path]) -> str:
    """A sweep folder's path below the folder given on the command line that holds it
    ('2026-11-30/12-00-00' under multirun/), or its own name."""
    for root in roots:
        relative = os.path.relpath(sweep, root.resolve())
        if relative != "." and not relative.startswith(".."):
            return relative
    return os.path.basename(sweep)


def _folder_names(keys: Sequence[str], roots: Sequence[Path]) -> dict[str, str]:
    """Unique folder names: '2026-11-30_12-00-00', 'study-NAME', 'single-runs'."""
    names: dict[str, str] = {}
    for key in keys:
        is_folder = key != SINGLE_RUNS and not key.startswith("study ")
        raw = "_".join(Path(_relative(key, roots)).parts) if is_folder else key.replace(" ", "-")
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-.") or "sweep"
        while name in names.values():
            name += "_"
        names[key] = name
    return names


def split_sweeps(refs: Sequence[RunRef], roots: Sequence[Path] = ()) -> list[Sweep]:
    """The runs by sweep, sweeps in the order of their first run; `roots` are the folders
    given on the command line, which the sub-report folders are named relative to."""
    parts: dict[str, list[RunRef]] = {}
    for ref in refs:
        parts.setdefault(_key(ref), []).append(ref)
    folders = _folder_names(list(parts), roots)
    return [
        Sweep(_shown(key, members), folders[key], tuple(members)) for key, members in parts.items()
    ]


def pooled(refs: Sequence[RunRef], roots: Sequence[Path]) -> Sweep:
    """All runs as one sweep (`--pool`), named by the folders and studies given."""
    studies = dict.fromkeys(f"study {r.study.name}" for r in refs if r.study is not None)
    return Sweep(", ".join([*map(str, roots), *studies]) or "all runs", "", tuple(refs))


def _shown(key: str, members: Sequence[RunRef]) -> str:
    """A sweep folder as the user would type it: relative to the working folder if below it;
    single runs by the folder that holds them all."""
    if key == SINGLE_RUNS:
        folders = [str(r.path.resolve()) for r in members if r.path is not None]
        return f"{SINGLE_RUNS} in {_relative_to_cwd(os.path.commonpath(folders))}"
    return _relative_to_cwd(key) if os.path.isabs(key) else key


def _relative_to_cwd(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative
