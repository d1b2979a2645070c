"""W&B mirrors a run's record; losing it must never cost the record or hide why a run ended.

SLURM's `scancel`, `scontrol requeue` and preemption send SIGTERM to every process of the job,
W&B's service process (`wandb-core`) included. Every later W&B call then raises
(`ConnectionResetError`), from inside the checkpoint written on that SIGTERM, from Lightning's
logger teardown and from `wandb.finish()`, and that error would replace the interruption the
sweeper needs to see. Each W&B call a run makes goes through `mirror`: the first failure is
one warning, and W&B is left alone for the rest of the process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class _State:
    lost = False


def wandb_lost() -> bool:
    return _State.lost


def mirror(call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run one W&B call; if W&B fails, say so once and make no more W&B calls."""
    if _State.lost:
        return
    try:
        call(*args, **kwargs)
    except Exception as error:
        abandon(error)


def abandon(error: BaseException) -> None:
    _State.lost = True
    log.warning(
        "W&B stopped answering (%s: %s): its log of this run ends here; results.json, "
        "metrics.csv and the checkpoint are kept",
        type(error).__name__, error,
    )  # fmt: skip
    import wandb

    try:  # also unregisters wandb's exit hook, which would raise the same error at exit
        wandb.teardown()
    except Exception:
        log.debug("wandb.teardown() after the failure also failed", exc_info=True)
