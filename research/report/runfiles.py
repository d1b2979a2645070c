"""Read one file of a run folder, or say in one line why it cannot be read.

A file that is absent is no error (a run killed early has no results.json); a file that is there
but is not what `python -m research.train` writes (a results.json that is a list or holds strings
where numbers belong, a binary metrics.csv, a .hydra/config.yaml that is not YAML) raises
`Unreadable`, whose message names the file and the problem, so the report can list the run as
unreadable instead of stopping or guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import yaml

from research.tracking.results import Status

RESULT_STATUSES = get_args(Status)  # what research.train writes in results.json's `status`
SHOWN_CHARS = 40


class Unreadable(Exception):
    """A run file that is there but cannot be read: '<file>: <what is wrong>'."""


def kind(value: Any) -> str:
    """A JSON or YAML value's type as a reader says it: 'a list', 'a string', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else f"a {type(value).__name__}"


def read_text(run_dir: Path, name: str) -> str | None:
    """The file as text with universal newlines (the csv module writes '\\r\\n'), as
    `Path.read_text` reads it; None when it does not exist."""
    try:
        data = (run_dir / name).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Unreadable(f"{name}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable(f"{name}: not UTF-8 text") from None
    if "\x00" in text:
        raise Unreadable(f"{name}: not text (holds NUL bytes)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_yaml_mapping(run_dir: Path, name: str) -> dict[str, Any] | None:
    """A YAML file whose top level is a mapping (Hydra's config.yaml); None when absent."""
    text = read_text(run_dir, name)
    if text is None:
        return None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        raise Unreadable(f"{name}: not valid YAML ({_yaml_problem(error)})") from None
    if not isinstance(data, dict):
        raise Unreadable(f"{name}: expected a mapping, got {kind(data)}")
    return data


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem}, line {mark.line + 1} column {mark.column + 1}"
    return str(error).splitlines()[0]


def read_results(run_dir: Path, name: str) -> dict[str, Any] | None:
    """results.json, checked field by field against what research.train writes; None when
    absent (results.json is written atomically: a file that is there is a finished run's)."""
    text = read_text(run_dir, name)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise Unreadable(
            f"{name}: not valid JSON ({error.msg}, line {error.lineno} column {error.colno})"
        ) from None
    check_results(data, name)
    return data


def check_results(data: Any, name: str) -> None:
    if not isinstance(data, dict):
        raise Unreadable(f"{name}: expected an object, got {kind(data)}")
    if data.get("status") not in RESULT_STATUSES:
        raise Unreadable(
            f"{name}: status is {_shown(data.get('status'))}, expected one of "
            + ", ".join(RESULT_STATUSES)
        )
    for key, allowed in (
        ("reason", "string"),
        ("git_commit", "string"),
        ("seed", "integer"),
        ("global_step", "integer"),
        ("wall_time_s", "number"),
        ("config", "object"),
        ("versions", "object"),
        ("final", "object"),
        ("best", "object"),
        ("history", "list"),
    ):
        _expect(data.get(key), allowed, f"{name}: {key}")
    for key in ("final", "best"):
        for metric, value in (data.get(key) or {}).items():
            _expect(value, "number", f"{name}: {key}[{metric!r}]")
    for i, record in enumerate(data.get("history") or []):
        where = f"{name}: history[{i}]"
        if not isinstance(record, dict):
            raise Unreadable(f"{where} is {_shown(record)}, expected an object")
        for field in ("epoch", "step"):
            if not _is_number(record.get(field)):
                raise Unreadable(
                    f"{where}[{field!r}] is {_shown(record.get(field))}, expected a number"
                )
        for metric, value in record.items():
            _expect(value, "number", f"{where}[{metric!r}]")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": _is_number,
    "object": lambda v: isinstance(v, Mapping),
    "list": lambda v: isinstance(v, list),
}


def _expect(value: Any, allowed: str, where: str) -> None:
    """`value` is null or of the `allowed` JSON type."""
    if value is not None and not CHECKS[allowed](value):
        article = "an" if allowed[0] in "aeiou" else "a"
        raise Unreadable(f"{where} is {_shown(value)}, expected {article} {allowed} or null")


def _shown(value: Any) -> str:
    """A value as short text: 'high', null, a list."""
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return kind(value)
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"
