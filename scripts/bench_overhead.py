"""Per-step cost of `research.train` against a bare PyTorch loop, measured in one process.

Both train the same model on the same in-memory data with the same batch size and
optimizer; start-up, data generation and validation are excluded from both. Prints the
median over all epochs of ms per step, for each and as a ratio framework / bare loop per
model and dataset (target: <= 1.15), and the ratio of the fastest epochs. Medians of epochs,
not totals, so that a burst of load from another tenant of a shared machine moves neither
figure; the fastest epochs show the cost without any such interference.

    python scripts/bench_overhead.py [--epochs 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
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


class StepTimer(pl.Callback):
    """Per epoch, ms per optimizer step from the first batch's start to the last batch's end
    (a Lightning batch may hold several steps): every per-step cost (fetching, hooks,
    logging) counts; start-up and validation do not."""

    def __init__(self) -> None:
        self.epoch_ms: list[float] = []
        self._epoch_started: float | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, *args: object) -> None:
        if self._epoch_started is None:
            self._epoch_started = time.perf_counter()
            self._first_step = trainer.global_step

    def on_train_batch_end(self, *args: object) -> None:
        self._last_end = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, *args: object) -> None:
        assert self._epoch_started is not None
        steps = trainer.global_step - self._first_step
        self.epoch_ms.append((self._last_end - self._epoch_started) / steps * 1e3)
        self._epoch_started = None


def framework_epoch_ms(overrides: list[str], epochs: int, out: Path) -> list[float]:
    """ms per step of each epoch through `research.train`."""
    timer = StepTimer()
    cfg = compose_run_config([*overrides, f"trainer.max_epochs={epochs}", "test=false"], out, out)
    train(cfg, extra_callbacks=[timer])
    return timer.epoch_ms


def bare_epoch_ms(overrides: list[str], epochs: int, out: Path) -> list[float]:
    """ms per step of each epoch of a bare PyTorch loop."""
    cfg = compose_run_config([*overrides, "logger=none"], out, out)
    torch.manual_seed(cfg.seed)
    datamodule = instantiate(cfg.data)
    net = build_model(cfg.model, datamodule)
    optimizer = instantiate(cfg.optimizer)(net.parameters())
    x, y = datamodule.splits.train.inputs, datamodule.splits.train.targets
    batch = cfg.data.batch_size
    epoch_ms = []
    for _ in range(epochs):
        started = time.perf_counter()
        order = torch.randperm(len(x))
        xs, ys = x[order], y[order]
        for i in range(0, len(x), batch):
            loss = torch.nn.functional.cross_entropy(net(xs[i : i + batch]), ys[i : i + batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        epoch_ms.append((time.perf_counter() - started) / math.ceil(len(x) / batch) * 1e3)
    return epoch_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(f"{'case':<18} {'bare ms/step':>13} {'framework ms/step':>18} {'ratio':>6} {'best':>6}")
    with TemporaryDirectory() as tmp:
        for name, overrides in CASES.items():
            overrides = [*overrides, *args.overrides]
            bare, framework = [], []
            for repeat in range(args.repeats):  # interleaved, so drift hits both alike
                bare += bare_epoch_ms(overrides, args.epochs, Path(tmp))
                framework += framework_epoch_ms(overrides, args.epochs, Path(tmp) / str(repeat))
            b, f = statistics.median(bare), statistics.median(framework)
            best = min(framework) / min(bare)
            print(f"{name:<18} {b:>13.3f} {f:>18.3f} {f / b:>6.2f} {best:>6.2f}")


if __name__ == "__main__":
    main()
