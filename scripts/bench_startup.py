"""Start-up cost of `python -m research.train`, against a baseline measured in the same run.

- `--help` and `--cfg job` against `python -c "import hydra"`: they must not import torch.
- Command to first training step (`trainer.max_steps=1`, no validation, test or loggers)
  against `python -c "import torch, pytorch_lightning"` plus generating the same MNIST-1D
  data: the target is a ratio <= 1.5.

    python scripts/bench_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TRAIN = [sys.executable, "-m", "research.train"]
FIRST_STEP = [
    "trainer.max_steps=1",
    "trainer.limit_val_batches=0",
    "test=false",
    "logger=none",
    "callbacks=none",
]
BASELINE_TRAINING = (
    "import torch, pytorch_lightning; from research.data.mnist1d import generate; "
    "generate(20000, 0.8, 42)"
)


def seconds(command: list[str], cwd: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        command,
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "WANDB_MODE": "offline"},
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "--help": ([*TRAIN, "--help"], [sys.executable, "-c", "import hydra"]),
        "--cfg job": ([*TRAIN, "--cfg", "job"], [sys.executable, "-c", "import hydra"]),
        "to first step": (TRAIN + FIRST_STEP, [sys.executable, "-c", BASELINE_TRAINING]),
    }
    print(f"{'command':<14} {'baseline s':>10} {'research.train s':>17} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as cwd:
        for name, (command, baseline) in cases.items():
            ours, base = [], []
            for _ in range(args.repeats):  # interleaved, so load changes hit both alike
                base.append(seconds(baseline, cwd))
                ours.append(seconds(command, cwd))
            b, o = statistics.median(base), statistics.median(ours)
            print(f"{name:<14} {b:>10.2f} {o:>17.2f} {o / b:>6.2f}")


if __name__ == "__main__":
    main()
