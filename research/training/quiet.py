"""Library notices a user of this framework cannot act on, silenced for every run.

Each filter names one message, so a new warning from the same library still shows. What a
user can act on (a diverged run, an unreachable W&B server, a missing checkpoint) stays.
"""

from __future__ import annotations

import logging
import warnings

_LIGHTNING_NOTICES = (
    "💡 Tip:",  # Lightning advertises its cloud products on every Trainer built
    "GPU available:",  # the accelerator is in the config; a GPU left unused gets a warning
    "TPU available:",
    "`Trainer.fit` stopped:",  # the run's summary says how it ended
    "Loading `train_dataloader` to estimate",
    "Restoring states from the checkpoint path",  # the run logs one line of its own for both
    "Restored all states from the checkpoint",
)
_WARNINGS = (
    # Lightning's own pytree helper calls a torch API that torch 2.14 deprecates.
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # A run resumed in place writes into its own checkpoints/ folder, as it should.
    r"Checkpoint directory .* exists and is not empty",
    # The loader is resumable mid-epoch, by the checkpoint's step count rather than by
    # Lightning's state_dict protocol (`StepChunks.skip_first`).
    r"You're resuming from a checkpoint that ended before the epoch ended",
)


class _DropMessages(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


_NOTICE_FILTER = _DropMessages(_LIGHTNING_NOTICES)


def silence_library_notices() -> None:
    """Install the filters (idempotent: a multirun calls this once per job)."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if _NOTICE_FILTER not in logger.filters:
            logger.addFilter(_NOTICE_FILTER)
    for message in _WARNINGS:
        warnings.filterwarnings("ignore", message=message)
