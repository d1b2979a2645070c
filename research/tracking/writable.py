"""A run or sweep folder that cannot be created (a read-only file system, a full disk, no
permission) is one line before Hydra tries, not Hydra's traceback from inside its launcher."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def creatable(folder: Path) -> OSError | None:
    """Why `folder` cannot be made, or None: only folders that already exist are touched."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        return None  # Hydra's own error is clear enough for a path through a file
    try:
        probe = existing / f".write-probe-{id(folder)}"
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        return error
    return None


def _refuse(folder: Path, error: OSError) -> None:
    print(f"error: cannot create {folder}: {error.strerror or error}", file=sys.stderr)
    sys.exit(1)


class WritableOutput(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.run.dir)).absolute()
        error = creatable(folder)
        if error is not None:
            _refuse(folder, error)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.sweep.dir)).absolute()
        error = creatable(folder)
        if error is not None:
            _refuse(folder, error)
