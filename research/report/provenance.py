"""How the runs were produced: the command of each sweep or single run, and the studies, so a
reader can re-create every number in the report."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from research.report.load import Run

ENTRY = "python -m research.train"
MULTIRUN_YAML = "multirun.yaml"


@dataclass(frozen=True)
class Source:
    """One thing that produced runs: a sweep (multirun), a single run, or an Optuna study."""

    kind: str
    location: str
    command: str
    cwd: str | None
    runs: int


def _load_yaml(path: Path) -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path) as handle:
            return yaml.load(handle, Loader=loader)
    except (OSError, yaml.YAMLError):
        return None


def command(overrides: Sequence[str], multirun: bool) -> str:
    return " ".join([ENTRY, *(["-m"] if multirun else []), *map(shlex.quote, overrides)])


def typed_overrides(hydra: dict[str, Any]) -> list[str]:
    """What the user typed, from a recorded `hydra` node: the Hydra overrides
    (`hydra/sweeper=optuna`, `hydra.sweeper.n_trials=20`, `hydra.sweep.dir=...`), less the
    `hydra.mode` that Hydra adds for `-m`, then the task's."""
    overrides = hydra.get("overrides") or {}
    own = [o for o in overrides.get("hydra") or [] if not str(o).startswith("hydra.mode=")]
    return [*own, *(overrides.get("task") or [])]


def sweep_source(sweep: Path, runs: int) -> Source:
    hydra = (_load_yaml(sweep / MULTIRUN_YAML) or {}).get("hydra", {})
    cwd = hydra.get("runtime", {}).get("cwd")
    return Source("multirun", str(sweep), command(typed_overrides(hydra), multirun=True), cwd, runs)


def run_source(run: Run) -> Source:
    assert run.path is not None
    hydra = (_load_yaml(run.path / ".hydra" / "hydra.yaml") or {}).get("hydra")
    if isinstance(hydra, dict) and hydra.get("mode") == "RUN":
        overrides = typed_overrides(hydra)
    else:  # a sweep's job on its own: the sweep's Hydra settings are no part of its command
        overrides = _load_yaml(run.path / ".hydra" / "overrides.yaml") or []
    cwd = (run.config.get("paths") or {}).get("root_dir")
    return Source("run", str(run.path), command(overrides, multirun=False), cwd, 1)


def study_snippet(name: str, storage: str) -> str:
    return f"optuna.load_study(study_name={name!r}, storage={storage!r})"


def sources(runs: Sequence[Run]) -> list[Source]:
    """Sweeps once each (their multirun.yaml has the sweep command), then single runs, then
    studies."""
    sweeps: dict[Path, int] = {}
    singles: list[Source] = []
    studies: dict[tuple[str, str], int] = {}
    for run in runs:
        if run.ref.study is not None:
            key = (run.ref.study.name, run.ref.study.storage)
            studies[key] = studies.get(key, 0) + 1
        if run.path is None:
            continue
        if (run.path.parent / MULTIRUN_YAML).is_file():
            sweeps[run.path.parent] = sweeps.get(run.path.parent, 0) + 1
        else:
            singles.append(run_source(run))
    found = [sweep_source(sweep, n) for sweep, n in sweeps.items()] + singles
    found += [
        Source("optuna study", name, study_snippet(name, storage), None, n)
        for (name, storage), n in studies.items()
    ]
    return found
