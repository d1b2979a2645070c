"""Benchmark of the report's read-and-aggregate path on a large synthetic sweep.

Writes N run folders in the real on-disk format of `python -m research.train -m` (results.json
with per-epoch history and resolved config, a Lightning metrics.csv with S logged training
steps, .hydra/), then times discovery + loading + grouping + statistics + curve aggregation
against a baseline measured in the same process: only reading the same files (json.load and
csv.reader). The ratio says what the report adds on top of touching the data at all.

    python scripts/bench_report.py                  # 500 runs x 1,000 logged steps
    python scripts/bench_report.py --runs 50 --steps 200

`--search N` instead writes the N trials of a sampled search (optimizer, learning rate, betas;
one seed each, one in five pruned) and times the whole `python -m research.report` on them in
CPU seconds (the machine may be loaded), figures and files included, against the numbers alone
(the read-and-aggregate path above) measured in the same run:

    python scripts/bench_report.py --search 2000 --steps 200
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.stats  # noqa: F401  imported before timing: a one-off cost, not a per-run one
from measured import add_option, write  # scripts/ is on sys.path when run as a script

from research.report.analysis import analyze
from research.report.discover import discover
from research.report.grouping import group_runs
from research.report.load import load_runs

HEADER = ["epoch", "step", "test/acc", "test/loss", "train/loss", "val/acc", "val/loss"]
OPTIMIZERS = ["torch.optim.Adam", "torch.optim.AdamW", "torch.optim.RMSprop", "torch.optim.SGD"]
LOG_EVERY = 10


def config(run_dir: Path, target: str, lr: float, seed: int, betas: list | None) -> dict:
    optimizer = {"_target_": target, "_partial_": True, "lr": lr, "weight_decay": 0.0}
    if betas is not None:
        optimizer["betas"] = betas
    return {
        "task_name": "train",
        "tags": [],
        "seed": seed,
        "optimized_metric": "val/acc",
        "data": {
            "_target_": "research.data.mnist1d.MNIST1DDataModule",
            "batch_size": 128,
            "seed": seed,
        },
        "model": {"_target_": "research.models.cnn.CNN", "_partial_": True, "channels": 32},
        "optimizer": optimizer,
        "scheduler": None,
        "trainer": {
            "_target_": "pytorch_lightning.Trainer",
            "max_epochs": 10,
            "default_root_dir": str(run_dir),
            "log_every_n_steps": LOG_EVERY,
        },
        "logger": {"csv": {"save_dir": str(run_dir)}},
        "paths": {"root_dir": "/bench", "output_dir": str(run_dir)},
    }


def write_run(run_dir: Path, index: int, seeds: int, steps: int, epochs: int) -> None:
    """A run of a grid: `seeds` seeds per (optimizer, learning rate)."""
    group, seed = divmod(index, seeds)
    target = OPTIMIZERS[group % len(OPTIMIZERS)]
    lr = float(10 ** (-4 + 3 * (group // len(OPTIMIZERS)) / 25))
    settings = (target, lr, seed, None)
    write_files(run_dir, index, settings, 1.0 + group % 7, steps, epochs, "completed")


def write_trial(run_dir: Path, index: int, steps: int, epochs: int) -> None:
    """A trial of a sampled search (one seed each, one in five pruned after two epochs):
    optimizer, log-uniform learning rate, and betas for the Adam family."""
    rng = np.random.default_rng(index)
    target = OPTIMIZERS[index % len(OPTIMIZERS)]
    lr = float(10 ** rng.uniform(-4, -1))
    betas = [float(1 - 10 ** rng.uniform(-2, -0.5)), float(1 - 10 ** rng.uniform(-4, -1.5))]
    pruned = index % 5 == 4
    settings = (target, lr, 0, betas if "Adam" in target else None)
    rate = 1.0 + 6 * rng.random()
    write_files(run_dir, index, settings, rate, steps, epochs, "pruned" if pruned else "completed")


def write_files(
    run_dir: Path,
    index: int,
    settings: tuple[str, float, int, list | None],
    rate: float,
    steps: int,
    epochs: int,
    status: str,
) -> None:
    """results.json, metrics.csv and .hydra/ of one run; a pruned run stops after 2 epochs."""
    target, lr, seed, betas = settings
    rng = np.random.default_rng(index)
    if status == "pruned":
        steps, epochs = 2 * steps // epochs, 2
    x = np.arange(1, steps + 1) * LOG_EVERY
    loss = 2.3 * np.exp(-rate * x / x[-1]) + 0.05 * rng.standard_normal(steps) ** 2
    per_epoch = steps // epochs
    rows, history = [], []
    for i in range(steps):
        epoch = i // per_epoch
        rows.append([epoch, x[i] - 1, "", "", f"{loss[i]:.6f}", "", ""])
        if (i + 1) % per_epoch == 0:
            acc = float(1.0 - 0.9 * np.exp(-rate * (epoch + 1) / epochs) - 0.01 * rng.random())
            rows.append([epoch, x[i] - 1, "", "", "", f"{acc:.6f}", f"{loss[i]:.6f}"])
            history.append(
                {
                    "epoch": float(epoch),
                    "step": float(x[i]),
                    "train/loss_epoch": float(loss[i]),
                    "train/acc": acc,
                    "val/loss": float(loss[i]),
                    "val/acc": acc,
                }
            )
    rows.append([epochs, x[-1], f"{acc:.6f}", f"{loss[-1]:.6f}", "", "", ""])
    (run_dir / ".hydra").mkdir(parents=True)
    with open(run_dir / "metrics.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    final = {**history[-1], "test/loss": float(loss[-1]), "test/acc": acc}
    del final["epoch"], final["step"]
    results = {
        "status": status,
        "reason": None,
        "optimized_metric": "val/acc",
        "optimized_value": acc,
        "final": final,
        "best": {k: v for k, v in final.items() if not k.startswith("test/")},
        "global_step": int(x[-1]),
        "epochs": epochs,
        "wall_time_s": 1.0,
        "seed": seed,
        "output_dir": str(run_dir),
        "git_commit": None,
        "versions": {},
        "history": history,
        "config": config(run_dir, target, lr, seed, betas),
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    (run_dir / ".hydra" / "overrides.yaml").write_text(f"- optimizer.lr={lr}\n- seed={seed}\n")
    (run_dir / ".hydra" / "config.yaml").write_text(f"seed: {seed}\n")


def baseline(run_dirs: list[Path]) -> None:
    """Touch the data and nothing more: parse each results.json and split each metrics.csv."""
    for run_dir in run_dirs:
        with open(run_dir / "results.json") as handle:
            json.load(handle)
        with open(run_dir / "metrics.csv", newline="") as handle:
            list(csv.reader(handle))


def report_path(sweep: Path) -> int:
    """All the numbers of a report: per-group statistics, steps to target, curves with bands
    for the drawn groups. Figures and files are left out: their cost does not grow with runs."""
    runs = load_runs(discover([sweep]), "val/acc")
    analyze(group_runs(runs, ["optimizer"]), "val/acc", target=0.8)
    return len(runs)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def search_report(trials: int, steps: int, epochs: int, markdown: Path | None) -> None:
    """CPU of the whole report of a sampled search, against its numbers alone."""
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        sweep = Path(tmp) / "multirun" / "2026-11-21" / "12-00-00"
        for i in range(trials):
            write_trial(sweep / f"trial_{i}", i, steps, epochs)
        (sweep / "multirun.yaml").write_text("hydra:\n  overrides:\n    task: []\n")
        started = time.process_time()
        report_path(sweep)
        numbers = time.process_time() - started
        started = children_cpu()
        subprocess.run(
            [sys.executable, "-m", "research.report", str(sweep), "--out", f"{tmp}/report"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        whole = children_cpu() - started
    print(f"{trials} trials x {steps} logged steps, CPU seconds:")
    print(f"numbers alone (discover, load, group, statistics, curves, in-process): {numbers:.1f}")
    print(f"python -m research.report (start-up, numbers, figures, files): {whole:.1f}")
    print(f"ratio: {whole / numbers:.2f}x the numbers alone")
    write(markdown, [
        f"| report of {trials:,} search trials ({steps} logged steps each) | CPU s | ratio |",
        "|---|---:|---:|",
        f"| the numbers alone (discover, load, group, statistics, curves) | {numbers:.1f} "
        "| 1.00x |",
        f"| `python -m research.report` (start-up, numbers, figures, files) | {whole:.1f} "
        f"| {whole / numbers:.2f}x |",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--steps", type=int, default=1000, help="logged training steps per run")
    parser.add_argument("--seeds", type=int, default=5, help="runs per group")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--search", type=int, metavar="N", help="the report of N search trials")
    add_option(parser, "bench_report_search")
    args = parser.parse_args()
    if args.search:
        search_report(args.search, args.steps, args.epochs, args.markdown)
        return
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        sweep = Path(tmp) / "multirun" / "2026-11-21" / "12-00-00"
        started = time.perf_counter()
        for i in range(args.runs):
            write_run(sweep / str(i), i, args.seeds, args.steps, args.epochs)
        (sweep / "multirun.yaml").write_text("hydra:\n  overrides:\n    task: [seed=0,1,2,3,4]\n")
        print(
            f"wrote {args.runs} runs x {args.steps} logged steps in "
            f"{time.perf_counter() - started:.1f} s"
        )
        run_dirs = [sweep / str(i) for i in range(args.runs)]
        baseline(run_dirs)  # the same warm file cache for both measurements
        started = time.perf_counter()
        baseline(run_dirs)
        base = time.perf_counter() - started
        started = time.perf_counter()
        loaded = report_path(sweep)
        ours = time.perf_counter() - started
    assert loaded == args.runs
    print(f"baseline (json.load + csv.reader only): {base:.2f} s")
    print(f"report (discover, load, group, statistics, curves): {ours:.2f} s")
    print(f"ratio: {ours / base:.2f}x the baseline")


if __name__ == "__main__":
    main()
