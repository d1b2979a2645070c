"""results.json: the one machine-readable record every run leaves, written atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from research.tracking.atomic import atomic_write

Status = Literal["completed", "failed", "diverged", "pruned"]
RESULTS_FILE = "results.json"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """A kill during the write leaves the previous file, never half of one."""
    text = json.dumps(data, indent=2, default=_jsonable).encode()
    atomic_write(path, lambda handle: handle.write(text))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a diverged metric is recorded as null."""
    if value is None or not math.isfinite(value):
        return None
    return value


def read_results(run_dir: Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / RESULTS_FILE).read_text())
