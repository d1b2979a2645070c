"""`python -m research.benchmark benchmark=<fast|small|full>`: tune every optimizer on every
workload through the sweeper, re-run the tuned best and the defaults over seeds, then report.
Running the same command again resumes where it stopped."""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from research.config.errors import ConfigError
from research.config.group_options import refuse_unknown_option
from research.config.unknown_key import refuse_unknown_key
from research.sweep.stop import SigtermReceived, signal_number, sigterm_raises

log = logging.getLogger("research.benchmark")


def discard_run_folder(out_dir: Path) -> None:
    """A refused config leaves no folder: Hydra made `<out_dir>/.hydra-runs/<time>/` (and the
    folders above it) before the config was checked. Empty folders are removed up to
    `out_dir`, and above it only inside the working directory."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    shutil.rmtree(run_dir, ignore_errors=True)
    for folder in run_dir.parents:
        ours = folder == out_dir or out_dir in folder.parents or Path.cwd() in folder.parents
        if not ours or not folder.is_dir() or any(folder.iterdir()):
            break
        folder.rmdir()


@hydra.main(version_base="1.3", config_path="../../conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    from research.benchmark.protocol import ProtocolError, run
    from research.benchmark.spec import parse

    try:
        bench = parse(cfg)
        with sigterm_raises():
            run(bench, int(cfg.parallel_studies), float(cfg.progress_every_s))
    except (KeyboardInterrupt, SigtermReceived) as error:
        name = signal.Signals(signal_number(error)).name
        print(
            f"interrupted by {name}: the running studies and runs were stopped (their trials "
            f"do not count); run the same command again to resume from {bench.out_dir}",
            file=sys.stderr,
        )
        sys.exit(128 + signal_number(error))
    except ConfigError as error:  # refused before any work (the config, or a folder in use)
        discard_run_folder(Path(cfg.out_dir).resolve())
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except ProtocolError as error:
        print(f"error: {error}", file=sys.stderr)
        print("Run the same command again to resume.", file=sys.stderr)
        sys.exit(1)
    if cfg.report:
        command = [sys.executable, "-m", "research.leaderboard", str(bench.out_dir)]
        sys.exit(subprocess.call(command))


if __name__ == "__main__":
    refuse_unknown_option(sys.argv[1:])
    refuse_unknown_key(sys.argv[1:], "benchmark")
    main()
