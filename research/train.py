"""`python -m research.train`: the Hydra entry point.

Only Hydra is imported here; torch and Lightning load inside the task, after the config
has been checked, so `--help`, `--cfg job` and a bad override answer at once.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from research.config.checks import validate
from research.config.errors import ConfigError


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        validate(cfg)
        from research.training.pipeline import train

        return train(cfg)
    except ConfigError as error:
        if HydraConfig.get().mode != RunMode.RUN:
            raise  # a sweeper records it against this job and carries on
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
