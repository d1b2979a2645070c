"""Start-up cost of `python -m research.train`, against a baseline measured in the same run.

- `--help` and `--cfg job` against `python -c "import hydra"`: they must not import torch.
- Command to first training step (`trainer.max_steps=1`, no validation, test or loggers)
  against `python -c "import torch, pytorch_lightning"` plus generating the same MNIST-1D
  data: the target is a ratio <= 1.5.
- A sweep to its first trial, in CPU seconds (the machine may be loaded): a Hydra app that
  needs neither torch nor Lightning, run with `hydra/sweeper=optuna` (SQLite storage) against
  Hydra's basic sweeper; the trial reports whether torch or Lightning had been imported.

    python scripts/bench_startup.py [--repeats 5] [--only sweep] [--markdown [PATH]]

`--markdown` writes the commands' table to PATH (scripts/docs/measured/bench_startup.md) and
the sweep's beside it (bench_startup_sweep.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measured import add_option, write  # scripts/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parent.parent
APP_ENV = "BENCH_STARTUP_APP"  # set: this script is the Hydra app a sweep runs

TRAIN = [sys.executable, "-m", "research.train"]
FIRST_STEP = [
    "trainer.max_steps=1",
    "trainer.limit_val_batches=0",
    "optimized_metric=train/loss_epoch",  # no validation: a run refuses to optimize val/acc
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


def app_main() -> None:
    """The trial records the CPU its process spent before it (the basic launcher runs trials
    in the sweep's process) and which heavy modules were loaded by then."""
    import hydra
    from hydra.core.config_store import ConfigStore
    from omegaconf import DictConfig

    node = {"optimized_metric": "objective", "trial": None, "x": 0.0, "record": "first.json"}
    ConfigStore.instance().store(name="bench", node=node)

    @hydra.main(version_base="1.3", config_path=None, config_name="bench")
    def task(cfg: DictConfig) -> float:
        heavy = [m for m in ("torch", "pytorch_lightning", "lightning") if m in sys.modules]
        Path(cfg.record).write_text(json.dumps({"cpu_s": time.process_time(), "heavy": heavy}))
        return (cfg.x - 0.3) ** 2

    task()


def first_trial(cwd: str, sweeper: list[str]) -> dict:
    """CPU seconds of the sweep process up to its first trial, and the heavy modules loaded."""
    record = Path(cwd) / "first.json"
    record.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, __file__, "-m", *sweeper, f"record={record}"],
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, APP_ENV: "1", "PYTHONPATH": str(REPO)},
    )
    return json.loads(record.read_text())


def sweep_start(repeats: int, markdown: Path | None) -> None:
    print(f"{'sweep to first trial':<28} {'CPU s':>6} {'ratio':>6}  torch/Lightning loaded")
    lines = [
        "| sweep, start to first trial | CPU s | ratio | torch or Lightning loaded |",
        "|---|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory() as cwd:
        sweepers = {
            "Hydra's basic sweeper": ["x=0.5"],
            "hydra/sweeper=optuna": [
                "hydra/sweeper=optuna",
                "hydra/sweeper/sampler=random",
                f"hydra.sweeper.storage=sqlite:///{cwd}/studies.db",
                "hydra.sweeper.direction=minimize",
                "hydra.sweeper.n_trials=1",
                "x=interval(-1,1)",
            ],
        }
        runs: dict[str, list[dict]] = {name: [] for name in sweepers}
        for repeat in range(repeats):  # interleaved, so load changes hit both alike
            for name, sweeper in sweepers.items():
                study = [f"hydra.sweeper.study_name=s{repeat}"] if "optuna" in name else []
                runs[name].append(first_trial(cwd, [*sweeper, *study]))
    base = statistics.median(r["cpu_s"] for r in runs["Hydra's basic sweeper"])
    for name, records in runs.items():
        cpu = statistics.median(r["cpu_s"] for r in records)
        heavy = sorted({m for r in records for m in r["heavy"]})
        print(f"{name:<28} {cpu:>6.2f} {cpu / base:>6.2f}  {', '.join(heavy) or 'none'}")
        lines.append(f"| {name} | {cpu:.2f} | {cpu / base:.2f}x | {', '.join(heavy) or 'no'} |")
    write(markdown, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["sweep"], help="only the sweep's start-up")
    add_option(parser, "bench_startup")
    args = parser.parse_args()
    markdown: Path | None = args.markdown
    sweep_table = markdown.with_name(f"{markdown.stem}_sweep.md") if markdown else None
    sweep_start(args.repeats, sweep_table)
    if args.only:
        return
    hydra = [sys.executable, "-c", "import hydra"], "`import hydra`"
    training = (
        [sys.executable, "-c", BASELINE_TRAINING],
        "`import torch, pytorch_lightning` + MNIST-1D",
    )
    cases = {  # the command, the baseline and how the table names it
        "--help": ([*TRAIN, "--help"], *hydra),
        "--cfg job": ([*TRAIN, "--cfg", "job"], *hydra),
        "to first step": (TRAIN + FIRST_STEP, *training),
    }
    print(f"{'command':<14} {'baseline s':>10} {'research.train s':>17} {'ratio':>6}")
    lines = [
        f"`python -m research.train`, wall seconds (median of {args.repeats}):",
        "",
        "| command | baseline | baseline s | research.train s | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as cwd:
        for name, (command, baseline, label) in cases.items():
            ours, base = [], []
            for _ in range(args.repeats):  # interleaved, so load changes hit both alike
                base.append(seconds(baseline, cwd))
                ours.append(seconds(command, cwd))
            b, o = statistics.median(base), statistics.median(ours)
            print(f"{name:<14} {b:>10.2f} {o:>17.2f} {o / b:>6.2f}")
            lines.append(f"| `{name}` | {label} | {b:.2f} | {o:.2f} | {o / b:.2f}x |")
    write(markdown, lines)


if __name__ == "__main__":
    if os.environ.get(APP_ENV):
        app_main()
    else:
        main()
