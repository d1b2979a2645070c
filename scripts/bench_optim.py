"""Steady-state optimizer step time: the project's optimizers against torch.optim's.

    python scripts/bench_optim.py            # every optimizer, ~10M params, CPU (1-2 min)
    python scripts/bench_optim.py --quick    # adam, adamw, sgd, rmsprop only
    python scripts/bench_optim.py --compile  # adds impl="compile" for the few-large layout
    python scripts/bench_optim.py --device cuda

Two layouts of the same parameter count: a few large tensors (the update is memory-bound)
and many small ones (per-tensor overhead dominates). Each implementation gets fresh state and
`--warmup` untimed steps; then all of them, torch.optim.Adam(fused=True) included as the
baseline, take turns for `--repeats` rounds and each reports its best step. Ratios are
throughput (higher is faster) against that baseline and against torch's default mode for the
same optimizer. A benchmark, not a test: on a shared machine, rerun before trusting a
difference of a few percent.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

import research.optim as ro
from research.optim.fused import fused_kernel

Make = Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]


@dataclass(frozen=True)
class Counterpart:
    """A project optimizer, its torch.optim equivalent, and the torch modes that exist."""

    ours: type[ro.ChainedOptimizer]
    torch_cls: type[torch.optim.Optimizer]
    torch_kwargs: dict
    torch_modes: tuple[str, ...]


ALL_MODES = ("for-loop", "foreach", "fused")
OPTIMIZERS = {
    "sgd": Counterpart(ro.SGD, torch.optim.SGD, {"lr": 0.01}, ALL_MODES),
    "momentum": Counterpart(ro.Momentum, torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}, ALL_MODES),
    "nesterov": Counterpart(
        ro.Nesterov, torch.optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True}, ALL_MODES
    ),
    "adagrad": Counterpart(ro.Adagrad, torch.optim.Adagrad, {"eps": 1e-8}, ALL_MODES),
    "rmsprop": Counterpart(ro.RMSprop, torch.optim.RMSprop, {"lr": 1e-3}, ALL_MODES[:2]),
    "adam": Counterpart(ro.Adam, torch.optim.Adam, {}, ALL_MODES),
    "adamw": Counterpart(ro.AdamW, torch.optim.AdamW, {}, ALL_MODES),
    "amsgrad": Counterpart(ro.AMSGrad, torch.optim.Adam, {"amsgrad": True}, ALL_MODES),
    "nadam": Counterpart(ro.NAdam, torch.optim.NAdam, {}, ALL_MODES[:2]),
    "adam_no_bias_correction": Counterpart(
        ro.AdamNoBiasCorrection, torch.optim.Adam, {}, ALL_MODES
    ),
    "adam_stateless": Counterpart(ro.AdamStateless, torch.optim.Adam, {}, ALL_MODES),
}
QUICK = ("adam", "adamw", "sgd", "rmsprop")


def make_params(layout: str, total: int, device: str) -> list[torch.nn.Parameter]:
    count = 4 if layout == "large" else 1000
    generator = torch.Generator(device=device).manual_seed(0)
    params = []
    for _ in range(count):
        param = torch.randn(total // count, generator=generator, device=device)
        param = torch.nn.Parameter(param.view(-1, 100) if layout == "small" else param)
        param.grad = torch.randn(param.shape, generator=generator, device=device) * 1e-2
        params.append(param)
    return params


def torch_mode(counterpart: Counterpart, mode: str) -> Make:
    flags = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
    return lambda params: counterpart.torch_cls(params, **counterpart.torch_kwargs, **flags[mode])


def time_steps(makes: dict[str, Make], params: list, args: argparse.Namespace) -> dict[str, float]:
    """Best-of-`repeats` seconds per step of each optimizer, built fresh and warmed up.

    The optimizers take turns, one step each per round, so that load from other processes
    hits all of them alike; the minimum is the step time with the least interference.
    """
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    optimizers = {label: make(params) for label, make in makes.items()}
    for label, optimizer in optimizers.items():
        for _ in range(args.warmup + (3 if label.endswith("compile") else 0)):
            optimizer.step()
    times: dict[str, list[float]] = {label: [] for label in makes}
    for _ in range(args.repeats):
        for label, optimizer in optimizers.items():
            sync()
            start = time.perf_counter()
            optimizer.step()
            sync()
            times[label].append(time.perf_counter() - start)
    del optimizers
    gc.collect()
    return {label: min(seconds) for label, seconds in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--optimizers", nargs="+", choices=list(OPTIMIZERS))
    parser.add_argument("--layouts", nargs="+", choices=["large", "small"], default=None)
    parser.add_argument("--params", type=int, default=10_000_000, help="parameters per layout")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help='add impl="compile" (slow start)')
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    names = args.optimizers or (list(QUICK) if args.quick else list(OPTIMIZERS))
    layouts = args.layouts or ["large", "small"]

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    print("ms/step: best of --repeats; ratios: throughput (higher = faster) against")
    print("torch.optim.Adam(fused=True) and against torch's default mode for the same optimizer")
    default_mode = "foreach" if args.device.startswith("cuda") else "for-loop"
    baseline_label = "torch Adam(fused)"
    for layout in layouts:
        params = make_params(layout, args.params, args.device)
        print(f"\n## {layout}: {len(params)} tensors x {params[0].numel():,} parameters")
        header = f"{'optimizer':24} {'implementation':20} {'ms/step':>8} "
        print(header + f"{'vs Adam(fused)':>15} {'vs torch default':>17}")
        for name in names:
            counterpart = OPTIMIZERS[name]
            runs: dict[str, Make] = {baseline_label: torch_mode(OPTIMIZERS["adam"], "fused")}
            for mode in counterpart.torch_modes:
                runs[f"torch {mode}"] = torch_mode(counterpart, mode)
            impls = ["reference", "foreach", "auto"]
            if fused_kernel(counterpart.ours.chain) is not None:
                impls.insert(2, "fused")
            if args.compile and layout == "large":
                impls.append("compile")
            for impl in impls:
                runs[f"ours {impl}"] = lambda p, impl=impl, c=counterpart: c.ours(p, impl=impl)
            times = time_steps(runs, params, args)
            baseline, reference = times.pop(baseline_label), times[f"torch {default_mode}"]
            for label, seconds in times.items():
                print(
                    f"{name:24} {label:20} {seconds * 1e3:8.2f} "
                    f"{baseline / seconds:14.2f}x {reference / seconds:16.2f}x"
                )
        del params
        gc.collect()


if __name__ == "__main__":
    main()
