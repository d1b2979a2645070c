"""Scheduler values: a warm-up length, a learning-rate floor within [0, 1] of the peak (a
negative floor would turn descent into ascent), a decay factor that decays."""

from __future__ import annotations

from omegaconf import DictConfig

from research.config.groups.run import COUNT
from research.config.rules import Number, Rule, check_fields, target_of

STEPS = Number(low=0, integer=True)
RATIO = Number(low=0, high=1)
DECAY = Number(low=0, high=1, low_open=True)

RULES: dict[str, dict[str, Rule]] = {
    "research.training.schedulers.warmup_cosine": {"warmup_steps": STEPS, "min_lr_ratio": RATIO},
    "torch.optim.lr_scheduler.StepLR": {"step_size": COUNT, "gamma": DECAY},
    "torch.optim.lr_scheduler.MultiStepLR": {"gamma": DECAY},
    "torch.optim.lr_scheduler.ExponentialLR": {"gamma": DECAY},
    "torch.optim.lr_scheduler.CosineAnnealingLR": {"T_max": COUNT, "eta_min": Number(low=0)},
    "torch.optim.lr_scheduler.LinearLR": {
        "start_factor": DECAY,
        "end_factor": RATIO,
        "total_iters": COUNT,
    },
}


def check(cfg: DictConfig) -> None:
    scheduler = cfg.get("scheduler")
    if scheduler is not None:
        check_fields("scheduler", scheduler, RULES.get(target_of(scheduler), {}))
