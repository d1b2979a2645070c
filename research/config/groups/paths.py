"""Path values: the folder relative paths start from, and the data folder (which a
download may create, but which cannot be a file)."""

from __future__ import annotations

from omegaconf import DictConfig

from research.config.rules import Folder, Rule, check_fields

RULES: dict[str, Rule] = {
    "root_dir": Folder(),
    "data_dir": Folder(may_create=True),
}


def check(cfg: DictConfig) -> None:
    if isinstance(cfg.get("paths"), DictConfig):
        check_fields("paths", cfg.paths, RULES)
