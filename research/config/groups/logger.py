"""Logger values: where and how often the CSV and W&B loggers write, and the names W&B
accepts (a project name with a slash is refused by W&B only once the run starts)."""

from __future__ import annotations

from omegaconf import DictConfig

from research.config.groups.run import COUNT
from research.config.rules import AnyOf, Number, OneOf, Rule, Text, Texts, check_fields, target_of

WANDB_FORBIDDEN = "/\\#?%:"  # characters W&B refuses in a project name

RULES: dict[str, dict[str, Rule]] = {
    "research.tracking.csv_logger.ContinuingCSVLogger": {
        "save_dir": Text(),
        "name": Text(empty=True, null="no sub-folder"),
        "version": AnyOf(
            (Text(empty=True, null="the next version"), Number(low=0, integer=True)),
            "a string, an integer >= 0 or null",
        ),
        "flush_logs_every_n_steps": COUNT,
    },
    "research.tracking.wandb_logger.make_wandb_logger": {
        "project": Text(forbidden=WANDB_FORBIDDEN),
        "entity": Text(null="your default entity"),
        "group": Text(null="none"),
        "job_type": Text(null="none"),
        "tags": Texts(),
        "name": Text(null="W&B's generated name"),
        "save_dir": Text(),
        "send_every_s": Number(low=0),
        "mode": OneOf((None, "offline", "online", "disabled", "dryrun")),
        "init_timeout_s": Number(low=0, low_open=True),
    },
}


def check(cfg: DictConfig) -> None:
    for name, node in (cfg.get("logger") or {}).items():
        if isinstance(node, DictConfig):
            check_fields(f"logger.{name}", node, RULES.get(target_of(node), {}))
