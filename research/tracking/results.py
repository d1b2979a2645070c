"""results.json: the one machine-readable record every run leaves, written atomically."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

Status = Literal["completed", "failed", "diverged", "pruned"]
RESULTS_FILE = "results.json"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write a temporary file in the same folder, then rename: a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=False, default=_jsonable)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
