"""The config `python -m research.train` would run, composed in-process: for notebooks,
scripts and tests that call `research.training.pipeline.train` directly."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

CONF = Path(__file__).resolve().parents[2] / "conf"


def compose_run_config(overrides: list[str], output_dir: Path, root_dir: Path) -> DictConfig:
    """Compose `conf/train.yaml` with `overrides`; the run writes into `output_dir` and
    reads relative paths (data) from `root_dir`. Hydra's runtime config is registered, as
    a real run has it, for code that reads it (the DDP relaunch)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.runtime.cwd = str(root_dir)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.root_dir = str(root_dir)
        cfg.paths.output_dir = str(output_dir)
        del cfg.hydra
    return cfg
