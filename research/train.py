"""`python -m research.train`: the Hydra entry point.

Only Hydra is imported here; torch and Lightning load inside the task, after the config
has been checked, so `--help`, `--cfg job` and a bad override answer at once.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from research.config.checks import validate
from research.config.errors import ConfigError
from research.config.group_options import refuse_unknown_option
from research.config.same_run import with_run_overrides
from research.config.unknown_key import refuse_unknown_key
from research.training.disk_errors import disk_error_in, disk_line
from research.training.signals import interruption_in

# what a run writes before its first step: Hydra's files, then its loggers' (CSV, W&B)
BEFORE_TRAINING = {".hydra", "train.log", "hparams.yaml", "wandb"}


def discard_unused_run_folder(output_dir: Path) -> None:
    """A run stopped before it trained leaves no folder that a report would count as a run,
    nor the empty folders above it (outputs/<date>) inside the working directory."""
    if output_dir.is_dir() and {p.name for p in output_dir.iterdir()} <= BEFORE_TRAINING:
        shutil.rmtree(output_dir, ignore_errors=True)
        cwd = Path.cwd().resolve()
        for parent in output_dir.resolve().parents:
            if parent == cwd or cwd not in parent.parents:
                break
            try:
                parent.rmdir()  # only an empty one: another run's folder stops the walk
            except OSError:
                break


def interrupted_line(signal_name: str, output_dir: Path) -> str:
    """What was kept, and how to go on from it."""
    if (output_dir / "checkpoints" / "last.ckpt").is_file():
        return (
            f"interrupted by {signal_name}: the run's record and last checkpoint are in "
            f"{output_dir}; continue it with: "
            f"python -m research.train ckpt_path=last hydra.run.dir={shlex.quote(str(output_dir))}"
        )
    if (output_dir / "results.json").is_file():
        return (
            f"interrupted by {signal_name}: the run's record is in {output_dir}; no checkpoint "
            "was written yet (every 60 s, at the end and on SIGTERM), so run it again"
        )
    discard_unused_run_folder(output_dir)
    return f"interrupted by {signal_name} before training: nothing to keep, run it again"


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    single_run = HydraConfig.get().mode == RunMode.RUN
    try:
        validate(cfg)
        from research.training.pipeline import train

        return train(cfg)
    except ConfigError as error:
        if not single_run:
            raise  # a sweeper records it against this job and carries on
        discard_unused_run_folder(Path(cfg.paths.output_dir))
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except (Exception, KeyboardInterrupt) as error:
        interruption = interruption_in(error)
        disk = disk_error_in(error)
        if single_run and interruption is None and disk is not None:
            print(f"error: {disk_line(disk, Path(cfg.paths.output_dir))}", file=sys.stderr)
            sys.exit(1)
        if not single_run or (interruption is None and not isinstance(error, KeyboardInterrupt)):
            raise
        signum = interruption.signum if interruption else signal.SIGINT
        print(
            interrupted_line(signal.Signals(signum).name, Path(cfg.paths.output_dir)),
            file=sys.stderr,
        )
        sys.exit(128 + signum)


def cli() -> None:
    """The command line: a misspelled group option or key is one line; a resume in a run's own
    folder takes that run's overrides."""
    refuse_unknown_option(sys.argv[1:])
    refuse_unknown_key(sys.argv[1:], "train")
    sys.argv = [sys.argv[0], *with_run_overrides(sys.argv[1:])]
    main()


if __name__ == "__main__":
    cli()
