"""Checkpoints written atomically: a run killed while saving keeps its previous `last.ckpt`.

Lightning's own writer stages the file in the system temp folder and moves it, which is a
copy (not atomic) whenever that folder is on another file system than the run's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from research.tracking.atomic import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        atomic_write(Path(path), lambda handle: torch.save(checkpoint, handle))
