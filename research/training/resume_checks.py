"""Everything a resume can fail on, checked before any file of the run is written.

A resume that fails half-way would rewrite the run's `.hydra/` files, `results.json` and
`metrics.csv` with a run that never happened. So the checkpoint is read, the training left is
counted and the experiment's settings are compared with the checkpoint's own before Hydra
creates or touches the run folder (`ResumeGuard`, a Hydra callback), and again inside every
job (a sweep's retries resume from checkpoints too).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from research.config.errors import ConfigError

# What defines the experiment a checkpoint belongs to. Everything else (epochs, loggers,
# callbacks, threads, devices, the optimizer's code path) may change when a run continues.
EXPERIMENT = ("data", "model", "optimizer", "scheduler", "seed")
MAY_CHANGE = ("optimizer.impl", "model.compile")
SHOWN = 4  # differences named in the message


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        items: dict[str, Any] = {}
        for key, value in node.items():
            items.update(_flat(value, f"{prefix}{key}."))
        return items
    return {prefix.rstrip("."): node}


def experiment_of(config: dict[str, Any]) -> dict[str, Any]:
    flat = _flat({k: config.get(k) for k in EXPERIMENT})
    return {k: v for k, v in flat.items() if k not in MAY_CHANGE}


def differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """`key: old -> new` for each experiment setting that differs."""
    old, new = experiment_of(before), experiment_of(now)
    missing = object()
    return [
        f"{key}: {old.get(key, '(unset)')} -> {new.get(key, '(unset)')}"
        for key in sorted(old.keys() | new.keys())
        if old.get(key, missing) != new.get(key, missing)
    ]


def read_checkpoint(path: str) -> Any:
    from research.tracking.continuity import ResumePoint

    try:
        return ResumePoint.read(path)
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ConfigError(
            f"ckpt_path={path} cannot be read ({type(error).__name__}: {reason}): it may be "
            "truncated or not a checkpoint of this framework; give another checkpoint, or "
            "start a new run without ckpt_path"
        ) from None


def check_training_left(resume: Any, trainer: DictConfig) -> None:
    """Lightning would load the checkpoint, find nothing to do and end with a traceback."""
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if epochs is not None and epochs != -1 and resume.epochs_done >= epochs:
        raise ConfigError(
            f"{resume.path} has already trained {resume.epochs_done} epochs, and "
            f"trainer.max_epochs={epochs}: set trainer.max_epochs above {resume.epochs_done} "
            "to train on"
        )
    if steps is not None and steps > 0 and resume.global_step >= steps:
        raise ConfigError(
            f"{resume.path} has already taken {resume.global_step} steps, and "
            f"trainer.max_steps={steps}: set trainer.max_steps above {resume.global_step}"
        )


def check_same_experiment(resume: Any, config: dict[str, Any]) -> None:
    """A checkpoint's optimizer state and weights carry its settings: resumed under other ones,
    the run would train with the checkpoint's while its record said the new ones."""
    if resume.config is None:
        return
    changed = differences(resume.config, config)
    if changed:
        more = f" and {len(changed) - SHOWN} more" if len(changed) > SHOWN else ""
        raise ConfigError(
            f"{resume.path} was trained with other settings ({'; '.join(changed[:SHOWN])}"
            f"{more}): a resumed run keeps its checkpoint's settings; drop those overrides, "
            "or start a new run without ckpt_path to train with them"
        )


def check_resume(checkpoint: str, cfg: DictConfig) -> Any:
    """The checkpoint's `ResumePoint`, or a ConfigError saying why this resume cannot work."""
    resume = read_checkpoint(checkpoint)
    check_training_left(resume, cfg.trainer)
    sections = {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in ((k, cfg.get(k)) for k in EXPERIMENT)
    }
    check_same_experiment(resume, sections)
    return resume


class ResumeGuard(Callback):
    """Runs `check_resume` before Hydra creates the run folder or writes its `.hydra/` files."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        ckpt_path = config.get("ckpt_path")
        if not ckpt_path:
            return
        HydraConfig.instance().set_config(config)  # for ${hydra:...} in the checked sections
        last = Path(str(config.hydra.run.dir)).absolute() / "checkpoints" / "last.ckpt"
        checkpoint = str(last) if ckpt_path == "last" else str(ckpt_path)
        if not Path(checkpoint).is_file():
            return  # the run itself says so (a missing `last` starts from scratch)
        try:
            check_resume(checkpoint, config)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
