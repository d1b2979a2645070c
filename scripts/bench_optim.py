"""Steady-state optimizer step time: the project's optimizers against their reference code.

    python scripts/bench_optim.py            # every optimizer, ~10M params, CPU (a while: Muon)
    python scripts/bench_optim.py --quick    # adam, adamw, sgd, rmsprop only
    python scripts/bench_optim.py --optimizers radam lion --layouts small
    python scripts/bench_optim.py --compile  # adds impl="compile" where the chain allows it
    python scripts/bench_optim.py --device cuda
    python scripts/bench_optim.py --new --markdown  # + scripts/docs/measured/bench_optim_new.md

Two layouts of the same parameter count: a few large matrices (the update is memory-bound,
or matmul-bound for Muon) and many small ones (per-tensor overhead dominates). Each
implementation gets fresh state and `--warmup` untimed steps; then all of them, torch.optim.
Adam(fused=True) included as a yardstick, take turns for `--repeats` rounds, and each reports
the median of its steps (`--best`: the fastest). Ratios are throughput (higher is faster)
against that yardstick, against the reference's default mode on this device and against its
fastest mode measured here; `path` is the code path our `impl` took (`code_paths()`).
References: torch.optim (the seeds' family, RAdam, Adafactor, Muon), lion-pytorch,
schedulefree, prodigyopt and pytorch_optimizer; a missing package skips its optimizer. A
benchmark, not a test: on a shared machine, rerun before trusting a difference of a few percent.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from measured import add_option, write  # scripts/ is on sys.path when run as a script

import research.optim as ro
from research.optim.base import chain_info

Make = Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]


@dataclass(frozen=True)
class Counterpart:
    """A project optimizer and its reference's modes ({label: factory}); `default` names the
    mode the reference uses when not told (per device type)."""

    ours: type[ro.ChainedOptimizer]
    references: Callable[[], dict[str, Make]]
    default: dict[str, str]
    source: str = "torch"  # where the reference comes from, for the Markdown table


def _torch(cls: type[torch.optim.Optimizer], modes: tuple[str, ...], **kwargs: object):
    flags = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}

    def references() -> dict[str, Make]:
        return {
            mode: (lambda p, mode=mode: cls(p, **kwargs, **flags[mode]))  # type: ignore[misc]
            for mode in modes
        }

    return references


def _package(module: str, modes: dict[str, tuple[str, dict]], **kwargs: object):
    """A reference from a pip package: {mode: (attribute path, extra kwargs)}."""

    def references() -> dict[str, Make]:
        out = {}
        for mode, (path, extra) in modes.items():
            owner, name = path.rsplit(".", 1) if "." in path else ("", path)
            target = importlib.import_module(".".join(filter(None, (module, owner))))
            cls = getattr(target, name)
            out[mode] = lambda p, cls=cls, extra=extra: _train_mode(cls(p, **kwargs, **extra))
        return out

    return references


def _train_mode(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    if callable(getattr(optimizer, "train", None)):
        optimizer.train()  # schedulefree refuses to step otherwise
    return optimizer


ALL_MODES = ("for-loop", "foreach", "fused")
CPU_LOOP = {"cpu": "for-loop", "cuda": "foreach"}
OPTIMIZERS = {
    "sgd": Counterpart(ro.SGD, _torch(torch.optim.SGD, ALL_MODES, lr=0.01), CPU_LOOP),
    "momentum": Counterpart(
        ro.Momentum, _torch(torch.optim.SGD, ALL_MODES, lr=0.01, momentum=0.9), CPU_LOOP
    ),
    "nesterov": Counterpart(
        ro.Nesterov,
        _torch(torch.optim.SGD, ALL_MODES, lr=0.01, momentum=0.9, nesterov=True),
        CPU_LOOP,
    ),
    "adagrad": Counterpart(ro.Adagrad, _torch(torch.optim.Adagrad, ALL_MODES, eps=1e-8), CPU_LOOP),
    "rmsprop": Counterpart(ro.RMSprop, _torch(torch.optim.RMSprop, ALL_MODES[:2]), CPU_LOOP),
    "adam": Counterpart(ro.Adam, _torch(torch.optim.Adam, ALL_MODES), CPU_LOOP),
    "adamw": Counterpart(ro.AdamW, _torch(torch.optim.AdamW, ALL_MODES), CPU_LOOP),
    "amsgrad": Counterpart(ro.AMSGrad, _torch(torch.optim.Adam, ALL_MODES, amsgrad=True), CPU_LOOP),
    "nadam": Counterpart(ro.NAdam, _torch(torch.optim.NAdam, ALL_MODES[:2]), CPU_LOOP),
    "adam_no_bias_correction": Counterpart(
        ro.AdamNoBiasCorrection, _torch(torch.optim.Adam, ALL_MODES), CPU_LOOP
    ),
    "adam_stateless": Counterpart(ro.AdamStateless, _torch(torch.optim.Adam, ALL_MODES), CPU_LOOP),
    "radam": Counterpart(ro.RAdam, _torch(torch.optim.RAdam, ALL_MODES[:2]), CPU_LOOP),
    # torch's Adafactor defaults to its for-loop everywhere (memory)
    "adafactor": Counterpart(
        ro.Adafactor,
        _torch(torch.optim.Adafactor, ALL_MODES[:2]),
        {"cpu": "for-loop", "cuda": "for-loop"},
    ),
    "lion": Counterpart(
        ro.Lion,
        _package("lion_pytorch", {"for-loop": ("Lion", {}), "foreach": ("foreach.Lion", {})}),
        {"cpu": "for-loop", "cuda": "for-loop"},
        "lion-pytorch",
    ),
    # torch's Muon has only its for-loop (matrices only: both layouts are matrices)
    "muon": Counterpart(
        ro.Muon,
        lambda: {"for-loop": lambda p: torch.optim.Muon(p)},
        {"cpu": "for-loop", "cuda": "for-loop"},
    ),
    "schedule_free_adamw": Counterpart(
        ro.ScheduleFreeAdamW,
        _package(
            "schedulefree",
            {
                "for-loop": ("AdamWScheduleFree", {"foreach": False}),
                "foreach": ("AdamWScheduleFree", {"foreach": True}),
            },
        ),
        {"cpu": "foreach", "cuda": "foreach"},
        "schedulefree",
    ),
    "prodigy": Counterpart(
        ro.Prodigy,
        _package("prodigyopt", {"for-loop": ("Prodigy", {})}),
        {"cpu": "for-loop", "cuda": "for-loop"},
        "prodigyopt",
    ),
    "lamb": Counterpart(
        ro.Lamb,
        _package(
            "pytorch_optimizer",
            {"for-loop": ("Lamb", {"foreach": False}), "foreach": ("Lamb", {"foreach": True})},
        ),
        {"cpu": "foreach", "cuda": "foreach"},
        "pytorch_optimizer",
    ),
}
QUICK = ("adam", "adamw", "sgd", "rmsprop")
NEW = ("radam", "adafactor", "lion", "muon", "schedule_free_adamw", "prodigy", "lamb")


def make_params(layout: str, total: int, device: str) -> list[torch.nn.Parameter]:
    """`total` parameters as 4 large matrices or 1,000 small 100 x k ones, with gradients."""
    count = 4 if layout == "large" else 1000
    generator = torch.Generator(device=device).manual_seed(0)
    params = []
    for _ in range(count):
        size = total // count
        rows = 1000 if layout == "large" else 100
        param = torch.randn(size, generator=generator, device=device).view(rows, -1)
        param = torch.nn.Parameter(param)
        param.grad = torch.randn(param.shape, generator=generator, device=device) * 1e-2
        params.append(param)
    return params


def time_steps(
    makes: dict[str, Make], params: list, args: argparse.Namespace
) -> tuple[dict[str, float], dict[str, str]]:
    """Seconds per step of each optimizer (median or best of `repeats`), built fresh and
    warmed up, and the code path each of ours took.

    The optimizers take turns, one step each per round, so that load from other processes
    hits all of them alike. Gradients are restored before every step (some references
    write into them)."""
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    grads = [p.grad.clone() for p in params]
    saved = [p.detach().clone() for p in params]

    def restore() -> None:
        with torch.no_grad():
            for param, grad, value in zip(params, grads, saved, strict=True):
                param.grad.copy_(grad)
                param.copy_(value)  # keep every optimizer on the same numbers

    optimizers = {label: make(params) for label, make in makes.items()}
    paths = {
        label: "+".join(o.code_paths())
        for label, o in optimizers.items()
        if isinstance(o, ro.ChainedOptimizer)
    }
    for label, optimizer in optimizers.items():
        for _ in range(args.warmup + (3 if label.endswith("compile") else 0)):
            restore()
            optimizer.step()
    times: dict[str, list[float]] = {label: [] for label in makes}
    for _ in range(args.repeats):
        for label, optimizer in optimizers.items():
            restore()
            sync()
            start = time.perf_counter()
            optimizer.step()
            sync()
            times[label].append(time.perf_counter() - start)
    del optimizers
    gc.collect()
    pick = min if args.best else statistics.median
    return {label: pick(seconds) for label, seconds in times.items()}, paths


@dataclass(frozen=True)
class Measured:
    """One optimizer on one layout: ms per step of every mode, and the paths ours took."""

    name: str
    tensors: str  # "4 x 2.5M"
    ms: dict[str, float]  # "reference for-loop", "ours auto", ...
    paths: dict[str, str]
    default: str  # the reference's default mode on this device


PATHS = {"fused": "torch's fused", "reference": "per tensor", "muon:reference": "per matrix"}


def _size(count: int, numel: int) -> str:
    value, unit = (numel / 1e6, "M") if numel >= 1e6 else (numel / 1e3, "K")
    return f"{count} x {value:g}{unit}"


def _ms(value: float) -> str:
    return f"{value:.0f}" if value >= 1000 else f"{value:.1f}"


def seeds_table(rows: list[Measured]) -> list[str]:
    """The seeds' family against torch's three modes; bold where torch has no kernel."""
    lines = [
        "| optimizer | tensors | torch for-loop | torch foreach | torch fused | ours `auto` (path) "
        "| ours `foreach` | `auto` vs torch's fastest |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ms, auto = row.ms, row.ms["ours auto"]
        mode = [ms.get(f"reference {m}") for m in ALL_MODES]
        bold = "**" if mode[2] is None else ""
        path = PATHS.get(row.paths["ours auto"], row.paths["ours auto"])
        ratio = min(m for m in mode if m is not None) / auto
        cells = [f"{bold}{row.name}{bold}", row.tensors]
        cells += ["-" if m is None else f"{m:.2f}" for m in mode]
        cells += [f"{bold}{auto:.2f}{bold} ({path})", f"{ms['ours foreach']:.2f}"]
        cells += [f"{bold}{ratio:.2f}x{bold}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def new_table(rows: list[Measured]) -> list[str]:
    """The rules after Adam against their reference's default and fastest modes."""
    lines = [
        "| optimizer | tensors | reference default | reference fastest | ours (`auto`) "
        "| vs fastest | path |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    named = set()
    for row in rows:
        refs = {k[10:]: v for k, v in row.ms.items() if k.startswith("reference ")}
        fastest = min(refs, key=refs.__getitem__)
        auto, foreach = row.ms["ours auto"], row.ms["ours foreach"]

        def mode(label: str, refs: dict[str, float] = refs) -> str:
            return _ms(refs[label]) + (f" ({label})" if len(refs) > 1 else "")

        ours, ratio = _ms(auto), f"{refs[fastest] / auto:.2f}x"
        path = PATHS.get(row.paths["ours auto"], row.paths["ours auto"])
        if foreach < auto and row.paths["ours auto"].endswith(":reference"):  # batched by foreach
            ours += f" (`foreach`: {_ms(foreach)})"
            ratio += f" ({refs[fastest] / foreach:.2f}x)"
        name = row.name if row.name in named else f"{row.name} ({OPTIMIZERS[row.name].source})"
        named.add(row.name)
        cells = [name, row.tensors, mode(row.default), mode(fastest), ours, ratio, path]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(measured: list[Measured]) -> list[str]:
    """One table per family present: the seeds' by layout, those without a torch kernel
    last; the newer rules by optimizer, then layout (`measured` is in layout order)."""
    order = {name: i for i, name in enumerate(OPTIMIZERS)}
    seeds = [r for r in measured if r.name not in NEW]
    layouts = list(dict.fromkeys(r.tensors for r in seeds))
    seeds.sort(
        key=lambda r: (layouts.index(r.tensors), "reference fused" not in r.ms, order[r.name])
    )
    new = sorted((r for r in measured if r.name in NEW), key=lambda r: order[r.name])
    tables = [render(rows) for rows, render in ((seeds, seeds_table), (new, new_table)) if rows]
    return [line for table in tables for line in [*table, ""]][:-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--new", action="store_true", help=f"only {', '.join(NEW)}")
    parser.add_argument("--optimizers", nargs="+", choices=list(OPTIMIZERS))
    parser.add_argument("--layouts", nargs="+", choices=["large", "small"], default=None)
    parser.add_argument("--params", type=int, default=10_000_000, help="parameters per layout")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--best", action="store_true", help="fastest step instead of the median")
    parser.add_argument("--compile", action="store_true", help='add impl="compile" (slow start)')
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    add_option(parser, "bench_optim_new" if "--new" in sys.argv else "bench_optim")
    args = parser.parse_args()
    names = args.optimizers or list(QUICK if args.quick else NEW if args.new else OPTIMIZERS)
    layouts = args.layouts or ["large", "small"]

    if args.threads:
        torch.set_num_threads(args.threads)
    statistic = "fastest" if args.best else "median"
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    print(f"ms/step: {statistic} of {args.repeats}; ratios: throughput (higher = faster) against")
    print("torch.optim.Adam(fused=True), the reference's default mode and its fastest mode here")
    device_type = args.device.split(":")[0]
    yardstick = "torch Adam(fused)"
    measured: list[Measured] = []
    for layout in layouts:
        params = make_params(layout, args.params, args.device)
        shape = "x".join(map(str, params[0].shape))
        print(f"\n## {layout}: {len(params)} tensors of {shape} ({params[0].numel():,} parameters)")
        print(
            f"{'optimizer':24} {'implementation':22} {'ms/step':>9} {'vs Adam(fused)':>15} "
            f"{'vs ref default':>15} {'vs ref fastest':>15}  path"
        )
        for name in names:
            counterpart = OPTIMIZERS[name]
            try:
                references = counterpart.references()
            except ImportError as error:
                print(f"{name:24} skipped: {error}")
                continue
            runs: dict[str, Make] = {yardstick: lambda p: torch.optim.Adam(p, fused=True)}
            runs |= {f"reference {mode}": make for mode, make in references.items()}
            impls = ["reference", "foreach", "auto"]
            chain = counterpart.ours.chain
            if chain_info(chain).fused is not None:
                impls.insert(2, "fused")
            if args.compile and all(chain_info(c).compilable for c in counterpart.ours._chains()):
                impls.append("compile")
            for impl in impls:
                runs[f"ours {impl}"] = lambda p, impl=impl, c=counterpart: c.ours(p, impl=impl)
            times, paths = time_steps(runs, params, args)
            baseline = times.pop(yardstick)
            default = times[f"reference {counterpart.default[device_type]}"]
            fastest = min(t for label, t in times.items() if label.startswith("reference"))
            tensors = _size(len(params), params[0].numel())
            ms = {label: seconds * 1e3 for label, seconds in times.items()}
            mode = counterpart.default[device_type]
            measured.append(Measured(name, tensors, ms, paths, mode))
            for label, seconds in times.items():
                print(
                    f"{name:24} {label:22} {seconds * 1e3:9.2f} {baseline / seconds:14.2f}x "
                    f"{default / seconds:14.2f}x {fastest / seconds:14.2f}x  {paths.get(label, '')}"
                )
        del params
        gc.collect()
    write(args.markdown, markdown(measured))


if __name__ == "__main__":
    main()
