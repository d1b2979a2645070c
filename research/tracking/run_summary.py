"""What a run prints when it ends: its status and the metrics a user looks for, so nobody has
to open results.json to learn how a run went."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def run_summary(record: Mapping[str, Any], results_path: Path) -> str:
    """A few lines: status, epochs and time, final and best val/*, test/*, where the record is."""
    lines = [
        f"{record['status']} in {record['wall_time_s']:.1f} s: "
        f"{_count(record['epochs'], 'epoch')}, {_count(record['global_step'], 'step')}"
        + (f" ({record['reason']})" if record["reason"] else "")
    ]
    final, best = record["final"], record["best"]
    val = sorted(k for k in final if k.startswith("val/"))
    test = sorted(k for k in final if k.startswith("test/"))
    width = max([10, *map(len, val + test)])
    for name in val:
        lines.append(
            f"  {name:<{width}} final {_number(final[name])}  best {_number(best.get(name))}"
        )
    for name in test:
        lines.append(f"  {name:<{width}} {_number(final[name])}")
    lines.append(f"results: {results_path}")
    return "\n".join(lines)


def jobs_table(records: Sequence[tuple[Path, Mapping[str, Any] | None]]) -> str:
    """One row per job of a multirun: its status, optimized metric(s) and folder."""
    rows = [("job", "status", "metric", "value", "run folder")]
    for folder, record in records:
        if record is None:
            rows.append((folder.name, "no record", "", "", str(folder)))
            continue
        metric, value = record.get("optimized_metric", ""), record.get("optimized_value")
        rows.append(
            (
                folder.name,
                str(record["status"]),
                ", ".join(metric) if isinstance(metric, list) else str(metric),
                ", ".join(map(_number, value)) if isinstance(value, list) else _number(value),
                str(folder),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
