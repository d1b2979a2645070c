"""`python -m research.train`: the Hydra entry point.

Only Hydra is imported here; torch and Lightning load inside the task, so `--help` and
`--cfg job` answer at once.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from research.pipeline import train

    return train(cfg)


if __name__ == "__main__":
    main()
