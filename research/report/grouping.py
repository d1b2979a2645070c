"""Which runs belong together: groups (what is compared) within tasks (what it is compared on).

Only config keys that differ between runs matter. Keys named by `--group-by` (default: the
optimizer's `_target_` and hyperparameters) define groups; the other differing keys (data,
model, epochs, ...) define tasks; seeds, paths, loggers and trial bookkeeping are neither, so
seeds become repetitions within a group.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from research.report.errors import ReportError
from research.report.load import Run

BOOKKEEPING_PREFIXES = ("paths", "logger", "hydra", "trial", "report")
BOOKKEEPING_KEYS = {
    "tags",
    "task_name",
    "ckpt_path",
    "optimized_metric",
    "trainer.default_root_dir",
}
HYDRA_MECHANICS = ("_partial_", "_convert_", "_recursive_")
ALL = "all"
UNKNOWN_CONFIG = "config unknown"  # the group of runs whose files say nothing of their config


class _Missing:
    """A key a run's config does not have: differs from any value, shown as nothing."""

    def __repr__(self) -> str:
        return "—"


MISSING = _Missing()


@dataclass
class Group:
    settings: dict[str, Any]  # group key -> value, keys the group's config has
    label: str
    runs: list[Run]


@dataclass
class Task:
    settings: dict[str, Any]
    label: str
    groups: list[Group]


@dataclass
class Grouping:
    prefixes: list[str]
    group_keys: list[str]
    task_keys: list[str]
    differing: dict[str, list[Any]]  # key -> the distinct values seen
    common: dict[str, Any]  # key -> the one value all runs share
    tasks: list[Task]


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    if value is None:
        return "none"
    return str(value)


def _hashable(value: Any) -> Hashable:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Hashable]:
    """Nested config -> {'optimizer.lr': 0.001, 'optimizer.betas': (0.9, 0.999), ...}."""
    flat: dict[str, Hashable] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = _hashable(value)
    return flat


def is_bookkeeping(key: str, value: Any, output_dir: str | None) -> bool:
    """Keys that say where or how a run was recorded, not what was trained."""
    last = key.rsplit(".", 1)[-1]
    return (
        last == "seed"
        or last in HYDRA_MECHANICS
        or key in BOOKKEEPING_KEYS
        or key.split(".", 1)[0] in BOOKKEEPING_PREFIXES
        or bool(output_dir and isinstance(value, str) and output_dir in value)
    )


def run_settings(run: Run) -> dict[str, Hashable]:
    output_dir = str(run.path) if run.path else None
    paths = run.config.get("paths")
    recorded = paths.get("output_dir") if isinstance(paths, dict) else None
    return {
        key: value
        for key, value in flatten(run.config).items()
        if not is_bookkeeping(key, value, recorded or output_dir)
    }


def matches(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def short_name(target: Any) -> str:
    """'torch.optim.Adam' -> 'Adam'."""
    return str(target).rsplit(".", 1)[-1]


def display_names(targets: Iterable[Any]) -> dict[Any, str]:
    """Short class names, or the full path where two classes share one (torch.optim.Adam and
    research.optim.Adam are both compared in one report)."""
    unique = {t for t in targets if isinstance(t, str)}
    counts = Counter(short_name(t) for t in unique)
    return {t: short_name(t) if counts[short_name(t)] == 1 else t for t in unique}


def label(
    settings: dict[str, Any], keys: Sequence[str], names: Mapping[Any, str] | None = None
) -> str:
    """'Adam (lr=0.001, betas=(0.9, 0.99))': class names first, then the hyperparameters."""
    present = [k for k in keys if settings.get(k, MISSING) is not MISSING]
    classes = [
        (names or {}).get(settings[k], short_name(settings[k]))
        for k in present
        if k.endswith("._target_")
    ]
    heads = {k.split(".", 1)[0] for k in present}
    strip = len(heads) == 1
    values = [
        f"{k.split('.', 1)[1] if strip and '.' in k else k}={format_value(settings[k])}"
        for k in present
        if not k.endswith("._target_")
    ]
    if not classes:
        return ", ".join(values) or "all runs"
    return " + ".join(classes) + (f" ({', '.join(values)})" if values else "")


def family_label(settings: dict[str, Any], keys: Sequence[str]) -> str:
    """The optimizer a group belongs to, its hyperparameters left out: 'Adam (lr=0.01)' ->
    'Adam'. Groups told apart by no class are one family."""
    return label(settings, [k for k in keys if k.endswith("._target_")])


def first_seen(values: Iterable[Any]) -> list[Any]:
    """The distinct values in the order first seen; the hashable ones found in a set (a
    search has as many learning rates as trials)."""
    hashable: set[Any] = set()
    others: list[Any] = []
    distinct = []
    for value in values:
        try:
            if value in hashable:
                continue
            hashable.add(value)
        except TypeError:  # a list or dict
            if value in others:
                continue
            others.append(value)
        distinct.append(value)
    return distinct


def group_runs(runs: Sequence[Run], group_by: Sequence[str]) -> Grouping:
    settings = [run_settings(run) for run in runs]
    all_keys = sorted({k for s in settings for k in s})
    distinct: dict[str, list[Any]] = {}
    for key in all_keys:
        distinct[key] = first_seen(
            s.get(key, MISSING)
            for run, s in zip(runs, settings, strict=True)
            # a trial's params, a killed run's config.yaml: no evidence
            if not (run.partial_config and key not in s)
        )
    differing = {k: v for k, v in distinct.items() if len(v) > 1}
    common = {k: v[0] for k, v in distinct.items() if len(v) == 1}
    varying = [k for k in differing if not _explained(k, differing)]

    if list(group_by) == [ALL]:
        prefixes = sorted({k.split(".", 1)[0] for k in varying})
    else:
        prefixes = list(group_by)
    for prefix in prefixes:
        if not any(matches(k, prefix) for k in all_keys):
            tops = sorted({k.split(".", 1)[0] for k in all_keys})
            raise ReportError(
                f"--group-by {prefix!r} is not a config key of these runs: use 'all', one of "
                f"{', '.join(tops)}, or a differing key ({', '.join(differing) or 'none differ'})"
            )
    targets = [f"{p}._target_" for p in prefixes if f"{p}._target_" in distinct]
    group_keys = targets + [
        k for k in varying if k not in targets and any(matches(k, p) for p in prefixes)
    ]
    task_keys = [k for k in varying if k not in group_keys]
    base_keys = [k for k in ("data._target_", "model._target_") if k not in group_keys]
    names = display_names(v for k in targets for v in distinct[k])

    tasks: dict[tuple[Any, ...], Task] = {}
    # Runs whose config is partly unknown join the first task and group they fit.
    order = sorted(range(len(runs)), key=lambda i: runs[i].partial_config)
    for i in order:
        run, s = runs[i], settings[i]
        task_id = tuple(s.get(k, MISSING) for k in task_keys)
        if run.partial_config:
            task_id = next((t for t in tasks if _fits(task_id, t)), task_id)
        if task_id not in tasks:
            task_settings = {k: s.get(k, MISSING) for k in base_keys + task_keys}
            tasks[task_id] = Task(task_settings, task_label(task_settings, task_keys), [])
        task = tasks[task_id]
        group_settings = {k: s.get(k, MISSING) for k in group_keys}
        wanted = tuple(group_settings.values())
        known = not group_keys or any(v is not MISSING for v in wanted)
        for group in task.groups:
            have = tuple(group.settings.values())
            if wanted == have or (run.partial_config and known and _fits(wanted, have)):
                group.runs.append(run)
                break
        else:
            name = label(group_settings, group_keys, names) if known else UNKNOWN_CONFIG
            task.groups.append(Group(group_settings, name, [run]))
    return Grouping(prefixes, group_keys, task_keys, differing, common, list(tasks.values()))


def _explained(key: str, differing: dict[str, list[Any]]) -> bool:
    """A key that only some runs have, because their classes differ (SGD has no beta1): the
    class already tells the runs apart, so the key is neither a group nor a task key."""
    present = [v for v in differing[key] if v is not MISSING]
    if len(present) > 1:
        return False
    parts = key.split(".")
    for end in range(1, len(parts)):
        target = differing.get(".".join(parts[:end]) + "._target_", [])
        if len([v for v in target if v is not MISSING]) > 1:
            return True
    return False


def _fits(partial: tuple[Any, ...], task_id: tuple[Any, ...]) -> bool:
    return all(p is MISSING or p == t for p, t in zip(partial, task_id, strict=True))


def task_label(settings: dict[str, Any], task_keys: Sequence[str]) -> str:
    """'DigitsDataModule / MLP (trainer.max_epochs=3)'."""
    names = [
        short_name(v) for k, v in settings.items() if k.endswith("._target_") and v is not MISSING
    ]
    extra = [
        f"{k}={format_value(settings[k])}"
        for k in task_keys
        if not k.endswith("._target_") and settings[k] is not MISSING
    ]
    return " / ".join(names) + (f" ({', '.join(extra)})" if extra else "") or "all runs"
