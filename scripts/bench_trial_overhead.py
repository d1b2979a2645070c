"""Per-trial overhead of a multirun: everything that is not training steps.

Runs the same one-step multirun with few and with many jobs, in one process each (Hydra's
basic launcher), and prints the cost of each extra job: (t_many - t_few) / (many - few).
The default loggers and callbacks stay on (CSV, offline W&B, checkpoint, progress bar).
Target: below 1 s per trial after the first.

    python scripts/bench_trial_overhead.py [--few 2] [--many 12] [--overrides ...]
                                           [--markdown [PATH]]
"""

from __future__ import annotations

import argparse
import tempfile

from bench_startup import TRAIN, seconds  # scripts/ is on sys.path when run as a script
from measured import add_option, write

ONE_STEP = [
    "data=digits",
    "model=mlp",
    "trainer.max_steps=1",
    "trainer.limit_val_batches=0",
    "optimized_metric=train/loss_epoch",  # no validation: a run refuses to optimize val/acc
    "test=false",
]


def multirun_seconds(jobs: int, cwd: str, overrides: list[str]) -> float:
    seeds = ",".join(str(seed) for seed in range(jobs))
    return seconds([*TRAIN, "-m", f"seed={seeds}", *ONE_STEP, *overrides], cwd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--few", type=int, default=2)
    parser.add_argument("--many", type=int, default=12)
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    add_option(parser, "bench_trial_overhead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cwd:
        few = multirun_seconds(args.few, cwd, args.overrides)
        many = multirun_seconds(args.many, cwd, args.overrides)
    per_trial = (many - few) / (args.many - args.few)
    print(f"{args.few} jobs: {few:.2f} s, {args.many} jobs: {many:.2f} s")
    print(f"overhead per extra trial: {per_trial:.2f} s (target < 1 s)")
    write(args.markdown, [
        "| one-step jobs | wall s | per trial after the first |",
        "|---:|---:|---:|",
        f"| {args.few} | {few:.1f} | |",
        f"| {args.many} | {many:.1f} | **{per_trial:.2f} s** |",
    ])  # fmt: skip


if __name__ == "__main__":
    main()
