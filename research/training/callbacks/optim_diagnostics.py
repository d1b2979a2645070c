"""Log what the optimizer does every N steps: `callbacks=optim_diagnostics` on the command line.

Metrics go to every attached logger (W&B, CSV) under `optim/...`, e.g.
`optim/group0/update_rms_ratio`, `optim/eff_lr_p95`, `optim/group0/beta2_window`; see
`research.optim.diagnostics` for the full list. A step that is not logged costs one modulo.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from torch.optim import Optimizer

from research.optim.diagnostics import OptimizerProbe


class OptimizerDiagnostics(pl.Callback):
    """Probe the optimizer step every `every_n_steps` optimizer steps and log the result."""

    def __init__(self, every_n_steps: int = 50) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps={every_n_steps} must be >= 1")
        self.every_n_steps = every_n_steps

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Optimizer
    ) -> None:
        step = trainer.global_step  # steps completed before this one
        if step % self.every_n_steps:
            return
        optimizer = getattr(optimizer, "_optimizer", optimizer)  # a LightningOptimizer's
        index = next((i for i, o in enumerate(trainer.optimizers) if o is optimizer), 0)
        probe = OptimizerProbe(optimizer, prefix="optim/" if index == 0 else f"optim/opt{index}/")
        probe.before_step()

        # Right after this step, not at the batch's end: a batch may hold several steps.
        def log_step(*_: Any) -> None:
            handle.remove()
            metrics = probe.after_step()
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=step)

        handle = optimizer.register_step_post_hook(log_step)
