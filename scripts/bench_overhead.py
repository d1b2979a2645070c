"""Whole-epoch cost of `research.train` against a bare PyTorch loop, measured in one process.

Both train the same model on the same in-memory data with the same batch size and
optimizer, and both validate after every epoch. An epoch is timed whole, as the user pays
for it: for the framework, from one epoch's start to the next one's (every batch, the
validation pass, logging, the epoch-end callbacks and any checkpoint written), i.e. the
marginal cost of one more epoch; for the bare loop, its shuffle, training steps and
validation pass. Start-up and the final checkpoint are one-time costs, left out of both.

Prints, per case, the median ms per epoch of each, their ratio (target: <= 1.15) and the
ratio of the fastest epochs (the cost without interference from other tenants).

    OMP_NUM_THREADS=1 python scripts/bench_overhead.py [--epochs 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from research.config.compose import compose_run_config
from research.training.pipeline import build_model, train

CASES = {
    "cnn on mnist1d": ["model=cnn", "data=mnist1d"],
    "mlp on digits": ["model=mlp", "data=digits"],
}


class EpochTimer(pl.Callback):
    """ms from each epoch's start to the next one's: everything the run does per epoch."""

    def __init__(self) -> None:
        self.epoch_ms: list[float] = []
        self._started: float | None = None

    def on_train_epoch_start(self, *args: object) -> None:
        now = time.perf_counter()
        if self._started is not None:
            self.epoch_ms.append((now - self._started) * 1e3)
        self._started = now


def framework_epoch_ms(overrides: list[str], epochs: int, out: Path) -> list[float]:
    """ms of each epoch (but the last, whose end is the run's end) through `research.train`."""
    timer = EpochTimer()
    cfg = compose_run_config(
        [*overrides, f"trainer.max_epochs={epochs + 1}", "test=false"], out, out
    )
    train(cfg, extra_callbacks=[timer])
    return timer.epoch_ms


def bare_epoch_ms(overrides: list[str], epochs: int, out: Path) -> list[float]:
    """ms of each epoch of a bare PyTorch loop that trains, then validates."""
    cfg = compose_run_config([*overrides, "logger=none"], out, out)
    torch.manual_seed(cfg.seed)
    datamodule = instantiate(cfg.data)
    net = build_model(cfg.model, datamodule)
    optimizer = instantiate(cfg.optimizer)(net.parameters())
    x, y = datamodule.splits.train.inputs, datamodule.splits.train.targets
    val_x, val_y = datamodule.splits.val.inputs, datamodule.splits.val.targets
    batch, eval_batch = cfg.data.batch_size, cfg.data.eval_batch_size
    epoch_ms = []
    for _ in range(epochs):
        started = time.perf_counter()
        net.train()
        order = torch.randperm(len(x))
        xs, ys = x[order], y[order]
        for i in range(0, len(x), batch):
            loss = torch.nn.functional.cross_entropy(net(xs[i : i + batch]), ys[i : i + batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            losses, correct = [], 0
            for i in range(0, len(val_x), eval_batch):
                logits = net(val_x[i : i + eval_batch])
                losses.append(torch.nn.functional.cross_entropy(logits, val_y[i : i + eval_batch]))
                correct += int((logits.argmax(1) == val_y[i : i + eval_batch]).sum())
        epoch_ms.append((time.perf_counter() - started) * 1e3)
    return epoch_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"{'case':<18} {'bare ms/epoch':>14} {'framework ms/epoch':>19} {'ratio':>6} {'best':>6}")
    with TemporaryDirectory() as tmp:
        for name, overrides in CASES.items():
            overrides = [*overrides, *args.overrides]
            bare, framework = [], []
            for repeat in range(args.repeats):  # interleaved, so drift hits both alike
                bare += bare_epoch_ms(overrides, args.epochs, Path(tmp))
                framework += framework_epoch_ms(overrides, args.epochs, Path(tmp) / str(repeat))
            b, f = statistics.median(bare), statistics.median(framework)
            best = min(framework) / min(bare)
            print(f"{name:<18} {b:>14.2f} {f:>19.2f} {f / b:>6.2f} {best:>6.2f}")


if __name__ == "__main__":
    main()
