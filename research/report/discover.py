"""Find the runs to report on: run folders, sweep folders (searched recursively), Optuna studies.

A run folder is one that holds `results.json` or `.hydra/config.yaml` (a run killed before it
wrote results still has the latter, and is reported as unfinished rather than skipped).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from research.report.errors import ReportError

RESULTS = "results.json"
HYDRA_CONFIG = os.path.join(".hydra", "config.yaml")
SKIP_DIRS = {"wandb", "checkpoints", "__pycache__"}
TRIAL_STATUS = {
    "FAIL": "failed",
    "PRUNED": "pruned",
    "RUNNING": "unfinished",
    "WAITING": "unfinished",
}


@dataclass(frozen=True)
class Study:
    """An Optuna study by storage (RDB URL, or a journal file path) and name."""

    storage: str
    name: str


@dataclass(frozen=True)
class RunRef:
    """Where one run's data lives; trials also carry their Optuna bookkeeping."""

    path: Path | None
    study: Study | None = None
    trial: int | None = None
    trial_status: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def is_run_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, RESULTS)) or os.path.isfile(
        os.path.join(path, HYDRA_CONFIG)
    )


def find_run_dirs(root: Path) -> list[Path]:
    """Every run folder at or below `root`, sorted; run folders are not searched further."""
    found: list[Path] = []
    stack = [str(root)]
    while stack:
        current = stack.pop()
        if is_run_dir(current):
            found.append(Path(current))
            continue
        with os.scandir(current) as entries:
            stack.extend(
                entry.path
                for entry in entries
                if entry.is_dir() and not entry.name.startswith(".") and entry.name not in SKIP_DIRS
            )
    return sorted(found, key=_natural_key)


def _natural_key(path: Path) -> list[list[Any]]:
    """Multirun job folders 0, 1, ..., 10 (and trial_0, ..., trial_10) in numeric order, not
    0, 1, 10, 2: each name split into text and numbers (text first, so alike ones compare)."""
    return [
        [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", part)]
        for part in path.parts
    ]


def open_storage(storage: str) -> Any:
    """An RDB URL goes to Optuna as is; an existing file that is not a URL is a journal file."""
    if "://" not in storage:
        if not os.path.isfile(storage):
            raise ReportError(
                f"optuna storage {storage!r} does not exist: give an RDB URL "
                "(e.g. sqlite:///optuna.db) or the path of a journal file"
            )
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(storage))
    if storage.startswith("sqlite:///") and not os.path.isfile(storage.removeprefix("sqlite:///")):
        # Optuna would silently create an empty database here.
        raise ReportError(f"optuna storage {storage!r}: the SQLite file does not exist")
    return storage


def study_runs(study: Study) -> list[RunRef]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(study.storage)
    try:
        loaded = optuna.load_study(study_name=study.name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage=storage)
        raise ReportError(
            f"no study {study.name!r} in {study.storage}: it holds "
            + (", ".join(repr(n) for n in names) or "no studies")
        ) from None
    trials = loaded.get_trials(deepcopy=False)
    if not trials:
        raise ReportError(f"study {study.name!r} in {study.storage} has no trials yet")
    refs = []
    for trial in trials:
        output_dir = trial.user_attrs.get("output_dir")
        path = Path(output_dir) if output_dir and is_run_dir(output_dir) else None
        refs.append(
            RunRef(
                path=path,
                study=study,
                trial=trial.number,
                trial_status=TRIAL_STATUS.get(trial.state.name, "missing"),
                params=dict(trial.params),
            )
        )
    return refs


def discover(paths: Sequence[Path], studies: Iterable[Study] = ()) -> list[RunRef]:
    """All runs under the given folders and in the given studies, each once."""
    refs: list[RunRef] = []
    for path in paths:
        if not path.is_dir():
            raise ReportError(f"{path} is not a folder: give run or sweep folders (or --study)")
        run_dirs = find_run_dirs(path)
        if not run_dirs:
            raise ReportError(
                f"no runs found under {path}: expected run folders holding {RESULTS} or "
                f"{HYDRA_CONFIG} (as written by python -m research.train)"
            )
        refs.extend(RunRef(path=p) for p in run_dirs)
    for study in studies:
        refs.extend(study_runs(study))
    seen: dict[Path, RunRef] = {}
    unique: list[RunRef] = []
    for ref in refs:
        if ref.path is None:
            unique.append(ref)
            continue
        key = ref.path.resolve()
        if key not in seen or (ref.study and not seen[key].study):
            seen[key] = ref
    unique[:0] = seen.values()
    if not unique:
        raise ReportError("no runs to report: give run or sweep folders, or --study STORAGE NAME")
    return unique
