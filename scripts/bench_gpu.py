"""Training throughput on a GPU, the framework against a bare PyTorch loop in the same run.

Cases: the default CNN on MNIST-1D; ResNet-18 on CIFAR-sized images (synthetic, so nothing is
downloaded; CIFAR's crop and flip run on the device); GPT-2 small (124M) on 1,024-token
windows of a synthetic GPT-2-sized token stream. Each case runs in each variant (precision,
`torch.compile`; `--variants`, by default bf16-mixed without and with compile), twice in one
process on one device:

- framework: `research.train` with its default loggers and callbacks on `trainer=gpu`, the
  finiteness check read every 64 steps (`check_finite_every_n_steps=64`);
- bare: the same model (built from the same config: channels-last, compile), data on the
  device cut into batches by the same tensor code, the same optimizer, in a plain loop
  (autocast for bf16, zero_grad / backward / step) with no metric, check or logger.

Epoch 0 (warm-up, compilation) is not counted. Samples/s is the median over the epochs
between the first and the last, each timed from its first batch to its last (validation
excluded); `ratio` is the framework's time per sample over the bare loop's (1.00: no
overhead). The idle fraction comes from profiling the last epoch: 1 - (time with a kernel
running) / wall time. MFU (model FLOPs utilisation) = training FLOPs per sample (forward and
backward of one step, counted by torch.utils.flop_counter on the meta device) x samples/s /
the device's peak dense bf16 tensor throughput (datasheet, `PEAK_BF16`; `--peak-tflops` for
another device), whatever the variant's precision.

`--device cpu` is a smoke test on a machine without a GPU: tiny sizes of the same cases,
idle = no torch op running, MFU only with `--peak-tflops`.

    python scripts/bench_gpu.py [--cases cnn resnet18 gpt] [--variants bf16-mixed ...]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.autograd import DeviceType
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from research.config.compose import compose_run_config
from research.data.base import InMemoryDataModule
from research.data.loader import EpochPermutation
from research.training.pipeline import build_model, optimizer_factory, train

# case: (overrides, what --device cpu changes to make it a smoke test)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "cnn": (
        ["model=cnn", "data=mnist1d"],
        ["data.num_samples=1500", "model.channels=[8,8]"],
    ),
    "resnet18": (
        ["model=resnet18", "data=synthetic", "data.train_size=25600", "data.eval_size=2048",
         "data.batch_size=512", "optimizer=nesterov", "optimizer.lr=0.1"],
        ["model.widths=[8,16]", "model.blocks=[1,1]", "data.train_size=512", "data.eval_size=64",
         "data.batch_size=32"],
    ),
    "gpt": (
        ["model=gpt2_small", "data=synthetic", "data.kind=tokens", "data.seq_len=1024",
         "data.vocab_size=50304", "data.train_size=1024", "data.eval_size=64",
         "data.batch_size=16", "data.eval_batch_size=16", "optimizer=adamw",
         "optimizer.lr=6e-4"],
        ["model.d_model=32", "model.num_heads=2", "model.num_layers=2", "data.seq_len=64",
         "data.vocab_size=256", "data.train_size=256", "data.batch_size=16"],
    ),
}  # fmt: skip
COMMON = ["check_finite_every_n_steps=64", "test=false", "trainer.enable_progress_bar=false"]
TRAINERS = {"cuda": "trainer=gpu", "cpu": "trainer=cpu"}
VARIANTS = {
    "fp32": [],
    "bf16-mixed": ["trainer.precision=bf16-mixed"],
    "fp32 + compile": ["model.compile=true"],
    "bf16-mixed + compile": ["trainer.precision=bf16-mixed", "model.compile=true"],
}
DEFAULT_VARIANTS = ["bf16-mixed", "bf16-mixed + compile"]
# dense (no sparsity) bf16 tensor-core peak, TFLOP/s, from NVIDIA's datasheets; the first
# name contained in torch.cuda.get_device_name() counts
PEAK_BF16 = {
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.4,  # SXM
    "H200": 989.4,
    "A100": 312.0,
    "L40S": 362.1,
    "L4": 121.0,
}


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of (start, end) intervals: kernels on several streams overlap."""
    busy, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            busy += end - max(start, reach)
            reach = end
    return busy


def peak_bf16(device_name: str) -> float | None:
    """The datasheet peak (FLOP/s) of the first `PEAK_BF16` name in `device_name`."""
    return next((tf * 1e12 for key, tf in PEAK_BF16.items() if key in device_name), None)


def mfu(flops_per_sample: float, samples_per_s: float, peak: float | None) -> float | None:
    """Model FLOPs utilisation: the fraction of the device's peak the model's FLOPs use."""
    return None if peak is None else flops_per_sample * samples_per_s / peak


class EpochClock:
    """Times epochs after the first (samples/s) and profiles the last one (idle fraction)."""

    def __init__(self, epochs: int, device: str) -> None:
        self.cuda = device == "cuda"
        self.last = epochs - 1
        self.samples_per_s: list[float] = []
        self.idle_fraction: float | None = None
        self._profiler: profile | None = None
        self._started: float | None = None

    def start(self, epoch: int) -> None:
        if epoch == 0:
            return
        self._sync()
        if epoch == self.last:
            activity = ProfilerActivity.CUDA if self.cuda else ProfilerActivity.CPU
            self._profiler = profile(activities=[activity])
            self._profiler.start()
        self._started = time.perf_counter()

    def stop(self, samples: int) -> None:
        if self._started is None:
            return
        self._sync()
        seconds = time.perf_counter() - self._started
        self._started = None
        if self._profiler is None:
            self.samples_per_s.append(samples / seconds)
            return
        self._profiler.stop()  # the profiled epoch is slowed: it counts for idle time only
        device_type = DeviceType.CUDA if self.cuda else DeviceType.CPU
        kernels = [
            (event.time_range.start, event.time_range.end)
            for event in self._profiler.events()
            if event.device_type == device_type
        ]
        self.idle_fraction = 1 - busy_seconds(kernels) / 1e6 / seconds
        self._profiler = None

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()


class FrameworkClock(pl.Callback):
    """An `EpochClock` driven by Lightning's batch hooks (a batch is a chunk of steps)."""

    def __init__(self, clock: EpochClock) -> None:
        self.clock = clock
        self._samples = 0

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if self._samples == 0:
            self.clock.start(trainer.current_epoch)

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        chunk = batch if isinstance(batch, list) else [batch]
        self._samples += sum(len(targets) for _, targets in chunk)
        if idx + 1 == trainer.num_training_batches:
            self.clock.stop(self._samples)
            self._samples = 0


def framework_run(cfg: DictConfig, epochs: int, device: str) -> EpochClock:
    clock = EpochClock(epochs, device)
    train(cfg, extra_callbacks=[FrameworkClock(clock)])
    return clock


def device_batches(
    datamodule: InMemoryDataModule, device: torch.device, batch_size: int, seed: int
) -> Callable[[int], Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """An epoch's batches as the framework cuts them, with no loader around them."""
    split = datamodule.splits.train.to(device)
    augment = datamodule.augmentation()
    order_of = EpochPermutation(len(split), shuffle=True, seed=seed)

    def epoch(index: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order_of.set_epoch(index)
        order = order_of.indices().to(device)
        draws = augment.draw(len(order), order_of.draws_generator()).to(device) if augment else None
        for start, (x, y) in zip(
            range(0, len(order), batch_size), split.batches(order, batch_size), strict=True
        ):
            yield (augment(x, draws.slice(start, start + len(y))) if draws is not None else x), y

    return epoch


def bare_run(cfg: DictConfig, epochs: int, device: str) -> EpochClock:
    """The same model, data and optimizer in a plain loop: nothing but the training step."""
    torch.manual_seed(cfg.seed)
    where = torch.device(device)
    datamodule: InMemoryDataModule = instantiate(cfg.data)
    net = build_model(cfg.model, datamodule).to(where)
    optimizer = optimizer_factory(cfg.optimizer)(net.parameters())
    batches = device_batches(datamodule, where, cfg.data.batch_size, cfg.seed)
    bf16 = str(cfg.trainer.precision) == "bf16-mixed"
    autocast = torch.autocast(device, dtype=torch.bfloat16) if bf16 else nullcontext()
    clock = EpochClock(epochs, device)
    net.train()
    for epoch in range(epochs):
        clock.start(epoch)
        samples = 0
        for x, y in batches(epoch):
            with autocast:
                loss = F.cross_entropy(net(x).flatten(0, -2), y.flatten())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            samples += len(y)
        clock.stop(samples)
    return clock


def flops_per_sample(cfg: DictConfig) -> float:
    """Forward and backward FLOPs of one training step per sample, counted on the meta device
    (no memory, no compute): matmuls, convolutions and attention, as MFU counts them."""
    datamodule: InMemoryDataModule = instantiate(cfg.data)
    split = datamodule.splits.train
    x, y = next(split.batches(torch.arange(2), 2))
    model_cfg = OmegaConf.merge(cfg.model, {"compile": False})
    with torch.device("meta"):
        net = build_model(model_cfg, datamodule)
    x, y = x.to("meta"), y.to("meta")
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(net(x).flatten(0, -2), y.flatten()).backward()
    return counter.get_total_flops() / len(y)


def release_memory(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


@dataclass
class Measurement:
    flops_per_sample: float
    framework: EpochClock
    bare: EpochClock

    def rates(self) -> tuple[float, float]:
        """Median samples/s of the framework and of the bare loop."""
        return statistics.median(self.framework.samples_per_s), statistics.median(
            self.bare.samples_per_s
        )


def measure(
    case: str, variant: str, device: str, epochs: int, extra: list[str], out: Path
) -> Measurement:
    """One case in one variant: the framework's run, then the bare loop's, on one device."""
    overrides, smoke = CASES[case]
    cfg = compose_run_config(
        [*overrides, *(smoke if device == "cpu" else []), *VARIANTS[variant], TRAINERS[device],
         f"trainer.max_epochs={epochs}", *COMMON, *extra],
        out, out,
    )  # fmt: skip
    flops = flops_per_sample(cfg)
    framework = framework_run(cfg, epochs, device)
    release_memory(device)
    bare = bare_run(cfg, epochs, device)
    release_memory(device)
    return Measurement(flops, framework, bare)


def cell(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--variants", nargs="*", default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    parser.add_argument("--device", default="cuda", choices=list(TRAINERS))
    parser.add_argument("--peak-tflops", type=float, help="the device's peak, for MFU")
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False; --device cpu runs")
    if args.epochs < 3:
        raise SystemExit(f"--epochs {args.epochs}: at least 3 (warm-up, timed, profiled)")
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    peak = (
        args.peak_tflops * 1e12
        if args.peak_tflops
        else (peak_bf16(name) if args.device == "cuda" else None)
    )
    print(f"torch {torch.__version__}, {name}, peak {cell(peak and peak / 1e12, '.1f')} TFLOP/s")
    print(f"framework: {' '.join(COMMON)}")
    header = ("case", "variant", "framework/s", "bare/s", "ratio", "idle", "bare idle", "MFU",
              "bare MFU", "GFLOP/sample")  # fmt: skip
    row = "{:<9} {:<21} {:>12} {:>12} {:>6} {:>6} {:>9} {:>6} {:>8} {:>12}"
    print(row.format(*header))
    with TemporaryDirectory() as tmp:
        for case in args.cases:
            for variant in args.variants:
                out = Path(tmp) / case / variant.replace(" + ", "-")
                m = measure(case, variant, args.device, args.epochs, args.overrides, out)
                fw_rate, bare_rate = m.rates()
                print(row.format(
                    case, variant, f"{fw_rate:,.0f}", f"{bare_rate:,.0f}",
                    f"{bare_rate / fw_rate:.2f}", f"{m.framework.idle_fraction:.1%}",
                    f"{m.bare.idle_fraction:.1%}",
                    cell(mfu(m.flops_per_sample, fw_rate, peak), ".1%"),
                    cell(mfu(m.flops_per_sample, bare_rate, peak), ".1%"),
                    f"{m.flops_per_sample / 1e9:.4g}",
                ), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
