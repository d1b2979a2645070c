"""Whole-epoch cost of `research.train` against a bare PyTorch loop, measured in one process.

Both train the same model on the same in-memory data with the same batch size and
optimizer, and both validate after every epoch. An epoch is timed whole, as the user pays
for it: for the framework, from one epoch's start to the next one's (every batch, the
validation pass, logging, the epoch-end callbacks and any checkpoint written), i.e. the
marginal cost of one more epoch; for the bare loop, its shuffle, training steps and
validation pass. Start-up and the final checkpoint are one-time costs, left out of both.

What the framework pays on an interval rather than every epoch (W&B rows are sent every
5 s) is in the total only if the timed epochs span several intervals: each case runs
enough epochs for that, and the headline ratio is that of the total times. The ratio of
the median epochs, which leave those sends out, is printed beside it.

The two run in lockstep: between two framework epochs the bare loop runs its epoch of the
same index (outside the framework's timer), so both see the same machine and the same stage
of training (an epoch gets slower as gradients shrink towards denormal floats). The first
epoch of each, a warm-up, is left out.

    OMP_NUM_THREADS=1 python scripts/bench_overhead.py [--repeats 3]
    OMP_NUM_THREADS=1 python scripts/bench_overhead.py --runs 3 --also logger=csv --markdown
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
from measured import add_option, write  # scripts/ is on sys.path when run as a script
from omegaconf import DictConfig

from research.config.compose import compose_run_config
from research.training.pipeline import build_model, train

CASES = {  # overrides, timed epochs (~20 s of them, four W&B sends)
    "cnn on mnist1d": (["model=cnn", "data=mnist1d"], 25),
    "mlp on digits": (["model=mlp", "data=digits"], 600),
}


class BareLoop:
    """The same model, data and optimizer trained by hand: shuffle, steps, validation."""

    def __init__(self, cfg: DictConfig) -> None:
        torch.manual_seed(cfg.seed)
        datamodule = instantiate(cfg.data)
        self.net = build_model(cfg.model, datamodule)
        self.optimizer = instantiate(cfg.optimizer)(self.net.parameters())
        self.train_split, self.val_split = datamodule.splits.train, datamodule.splits.val
        self.batch, self.eval_batch = cfg.data.batch_size, cfg.data.eval_batch_size

    def epoch_ms(self) -> float:
        started = time.perf_counter()
        x, y = self.train_split.inputs, self.train_split.targets
        self.net.train()
        order = torch.randperm(len(x))
        xs, ys = x[order], y[order]
        for i in range(0, len(x), self.batch):
            logits = self.net(xs[i : i + self.batch])
            loss = torch.nn.functional.cross_entropy(logits, ys[i : i + self.batch])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.net.eval()
        val_x, val_y, step = self.val_split.inputs, self.val_split.targets, self.eval_batch
        with torch.no_grad():
            losses, correct = [], 0
            for i in range(0, len(val_x), step):
                logits = self.net(val_x[i : i + step])
                losses.append(torch.nn.functional.cross_entropy(logits, val_y[i : i + step]))
                correct += int((logits.argmax(1) == val_y[i : i + step]).sum())
        return (time.perf_counter() - started) * 1e3


class LockstepEpochs(pl.Callback):
    """Times each framework epoch from its start to the next one's, and runs the bare loop's
    epoch of the same index in between, outside that time."""

    def __init__(self, bare: BareLoop) -> None:
        self.bare = bare
        self.framework_ms: list[float] = []
        self.bare_ms: list[float] = []
        self._started: float | None = None

    def on_train_epoch_start(self, *args: object) -> None:
        if self._started is not None:
            self.framework_ms.append((time.perf_counter() - self._started) * 1e3)
            self.bare_ms.append(self.bare.epoch_ms())
        self._started = time.perf_counter()


def lockstep_ms(overrides: list[str], epochs: int, out: Path) -> tuple[list[float], list[float]]:
    """ms of each epoch but the first, of the bare loop and of `research.train`."""
    cfg = compose_run_config(
        [*overrides, f"trainer.max_epochs={epochs + 1}", "test=false"], out, out
    )
    timer = LockstepEpochs(BareLoop(cfg))
    train(cfg, extra_callbacks=[timer])
    return timer.bare_ms[1:], timer.framework_ms[1:]


def measure(extra: list[str], repeats: int, tmp: str) -> dict[str, tuple[float, ...]]:
    """Per case: bare and framework ms per epoch (means), their ratio, the medians' ratio."""
    rows = {}
    for name, (overrides, epochs) in CASES.items():
        bare, framework = [], []
        for repeat in range(repeats):
            out = Path(tmp) / f"{name}-{len(extra)}-{repeat}".replace(" ", "_")
            b, f = lockstep_ms([*overrides, *extra], epochs, out)
            bare, framework = bare + b, framework + f
        b, f = statistics.mean(bare), statistics.mean(framework)
        median = statistics.median(framework) / statistics.median(bare)
        rows[name] = (b, f, f / b, median)
        print(f"{name:<18} {b:>14.2f} {f:>19.2f} {f / b:>6.3f} {median:>13.3f}", flush=True)
    return rows


def span(values: list[float], spec: str, unit: str = "") -> str:
    low, high = f"{min(values):{spec}}", f"{max(values):{spec}}"
    return (low if low == high else f"{low}-{high}") + unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--overrides", nargs="*", default=[], help="extra Hydra overrides")
    parser.add_argument("--runs", type=int, default=1, help="whole measurements (ranges)")
    parser.add_argument(
        "--also", nargs="*", default=[], help="one more run with these overrides (a column)"
    )
    add_option(parser, "bench_overhead")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    header = ("case", "bare ms/epoch", "framework ms/epoch", "ratio", "median epochs")
    print("{:<18} {:>14} {:>19} {:>6} {:>13}".format(*header))
    with TemporaryDirectory() as tmp:
        runs = [measure(args.overrides, args.repeats, tmp) for _ in range(args.runs)]
        also = measure([*args.overrides, *args.also], args.repeats, tmp) if args.also else {}
    lines = [
        "| case | bare loop | `research.train` | ratio | median epochs |"
        + (f" with `{' '.join(args.also)}` |" if also else ""),
        "|---|---:|---:|---:|---:|" + ("---:|" if also else ""),
    ]
    for name, (_, epochs) in CASES.items():
        b, f, ratio, median = ([run[name][i] for run in runs] for i in range(4))
        steps = f" ({epochs} epochs)"
        cells = [name + steps, span(b, ".1f", " ms"), span(f, ".1f", " ms")]
        cells += [f"**{span(ratio, '.3f', 'x')}**", span(median, ".3f", "x")]
        cells += [f"{also[name][2]:.3f}x"] if also else []
        lines.append("| " + " | ".join(cells) + " |")
    write(args.markdown, lines)


if __name__ == "__main__":
    main()
