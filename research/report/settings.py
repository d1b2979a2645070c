"""Report settings an experiment ships with its runs (a `report:` node in the experiment
config), so `python -m research.report FOLDER` needs no flags for a reproduction. The command
line wins over them; built-in defaults apply when neither says anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from research.report.build import Options
from research.report.discover import HYDRA_CONFIG, RunRef
from research.report.errors import ReportError
from research.report.runfiles import Unreadable, read_yaml_mapping

REPORT_KEY = "report"
SETTABLE = {"metric", "group_by", "target", "higher_is_better", "title"}


def key_list(text: str) -> list[str]:
    """`optimizer,data.stochastic` -> ["optimizer", "data.stochastic"]: how `--group-by` and
    `report.group_by` name their keys."""
    return [key.strip() for key in text.split(",") if key.strip()]


def _report_node(ref: RunRef) -> dict[str, Any] | None:
    """The run's `report:` node; None when its config cannot be read (no evidence)."""
    if ref.path is None:
        return None
    try:
        config = read_yaml_mapping(ref.path, HYDRA_CONFIG)
    except Unreadable:
        return None  # the run is listed as unreadable; its neighbours' settings still count
    if config is None:
        return None
    node = config.get(REPORT_KEY) or {}
    if not isinstance(node, dict):
        raise ReportError(
            f"{ref.path / HYDRA_CONFIG}: `{REPORT_KEY}` is {node!r}, expected a mapping of "
            + ", ".join(sorted(SETTABLE))
        )
    return node


def experiment_settings(refs: Sequence[RunRef]) -> dict[str, Any]:
    """The `report` node the runs' readable configs share; none when runs were made by
    different experiments (then only the command line and the defaults count)."""
    seen = [node for ref in refs if (node := _report_node(ref)) is not None]
    distinct = {repr(sorted(s.items())) for s in seen}
    if len(distinct) != 1:
        return {}
    settings = dict(seen[0])
    unknown = set(settings) - SETTABLE
    if unknown:
        raise ReportError(
            f"unknown report setting(s) {', '.join(sorted(unknown))} in the runs' config: "
            f"allowed are {', '.join(sorted(SETTABLE))}"
        )
    if isinstance(settings.get("group_by"), str):
        settings["group_by"] = key_list(settings["group_by"])
    return settings


def with_settings(options: Options, given: set[str], settings: dict[str, Any]) -> Options:
    """`options` with each setting the command line did not give taken from `settings`
    (whose keys `experiment_settings` checked: all are `Options` fields)."""
    return replace(options, **{k: v for k, v in settings.items() if k not in given})
