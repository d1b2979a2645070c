"""`python -m research.benchmark benchmark=<fast|small|full>`: tune every optimizer on every
workload through the sweeper, re-run the tuned best and the defaults over seeds, then report.
Running the same command again resumes where it stopped."""

from __future__ import annotations

import logging
import subprocess
import sys

import hydra
from omegaconf import DictConfig

from research.config.errors import ConfigError

log = logging.getLogger("research.benchmark")


@hydra.main(version_base="1.3", config_path="../../conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    from research.benchmark.protocol import ProtocolError, run
    from research.benchmark.spec import parse

    try:
        bench = parse(cfg)
        run(bench, int(cfg.parallel_studies), float(cfg.progress_every_s))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except ProtocolError as error:
        print(f"error: {error}", file=sys.stderr)
        print("Run the same command again to resume.", file=sys.stderr)
        sys.exit(1)
    if cfg.report:
        command = [sys.executable, "-m", "research.report.benchmark", str(bench.out_dir)]
        sys.exit(subprocess.call(command))


if __name__ == "__main__":
    main()
