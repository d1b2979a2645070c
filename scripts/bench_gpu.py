"""Training throughput on a GPU: samples/s and the fraction of time the GPU sits idle.

The default CNN on MNIST-1D and the Transformer on modular arithmetic, through
`research.train` with its default loggers and callbacks, in fp32 and `bf16-mixed`, with and
without `model.compile=true`. Epoch 0 (warm-up, compilation) is not counted. Samples/s is
the median over the epochs between the first and the last, each timed from its first batch
to its last; the idle fraction comes from profiling the last epoch: 1 - (time with a kernel
running) / wall time.
Validation is excluded from both. `--device cpu` runs the same measurement on the CPU (idle:
no torch op running), a smoke test of this script on a machine without a GPU.

    python scripts/bench_gpu.py [--epochs 4] [--cases cnn transformer] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytorch_lightning as pl
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from research.config.compose import compose_run_config
from research.training.pipeline import train

CASES = {
    "cnn": ["model=cnn", "data=mnist1d"],
    "transformer": ["model=transformer", "data=modular_arithmetic"],
}
TRAINERS = {"cuda": "trainer=gpu", "cpu": "trainer=cpu"}
VARIANTS = {
    "fp32": [],
    "bf16-mixed": ["trainer.precision=bf16-mixed"],
    "fp32 + compile": ["model.compile=true"],
    "bf16-mixed + compile": ["trainer.precision=bf16-mixed", "model.compile=true"],
}


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of (start, end) intervals: kernels on several streams overlap."""
    busy, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            busy += end - max(start, reach)
            reach = end
    return busy


class Throughput(pl.Callback):
    """Samples/s of each epoch after the first; the last epoch is profiled for idle time."""

    def __init__(self, epochs: int, device: str) -> None:
        self.cuda = device == "cuda"
        self.profiled_epoch = epochs - 1
        self.samples_per_s: list[float] = []
        self.idle_fraction: float | None = None
        self._profiler: profile | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self._samples = 0
        self._started: float | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.current_epoch == 0 or self._started is not None:
            return
        self._synchronize()
        if trainer.current_epoch == self.profiled_epoch:
            activity = ProfilerActivity.CUDA if self.cuda else ProfilerActivity.CPU
            self._profiler = profile(activities=[activity])
            self._profiler.start()
        self._started = time.perf_counter()

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        if self._started is None:
            return
        chunk = batch if isinstance(batch, list) else [batch]  # a chunk of steps, or one step
        self._samples += sum(len(inputs) for inputs, _ in chunk)
        if idx + 1 < trainer.num_training_batches:
            return
        self._synchronize()
        seconds = time.perf_counter() - self._started
        if self._profiler is None:
            self.samples_per_s.append(self._samples / seconds)
        else:  # slowed by the profiler: counts for idle time only
            self._profiler.stop()
            device_type = DeviceType.CUDA if self.cuda else DeviceType.CPU
            kernels = [
                (event.time_range.start, event.time_range.end)
                for event in self._profiler.events()
                if event.device_type == device_type
            ]
            self.idle_fraction = 1 - busy_seconds(kernels) / 1e6 / seconds
            self._profiler = None

    def _synchronize(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()


def measure(overrides: list[str], epochs: int, device: str, out: Path) -> Throughput:
    meter = Throughput(epochs, device)
    trainer = [TRAINERS[device], f"trainer.max_epochs={epochs}"]
    cfg = compose_run_config([*overrides, *trainer, "test=false"], out, out)
    train(cfg, extra_callbacks=[meter])
    return meter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--device", default="cuda", choices=list(TRAINERS))
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False; --device cpu runs")
    if args.epochs < 3:
        raise SystemExit(f"--epochs {args.epochs}: at least 3 (warm-up, timed, profiled)")
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"torch {torch.__version__}, {name}")
    print(f"{'case':<12} {'variant':<22} {'samples/s':>11} {'idle':>6}")
    with TemporaryDirectory() as tmp:
        for case in args.cases:
            for variant, switches in VARIANTS.items():
                overrides = [*CASES[case], *switches, *args.overrides]
                out = Path(tmp) / case / variant.replace(" + ", "-")
                meter = measure(overrides, args.epochs, args.device, out)
                rate = statistics.median(meter.samples_per_s)
                idle = meter.idle_fraction
                print(f"{case:<12} {variant:<22} {rate:>11,.0f} {idle:>6.1%}")


if __name__ == "__main__":
    main()
