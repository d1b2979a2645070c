"""A benchmark config as typed values, checked before anything runs.

A mistake (an unknown optimizer, a budget of 0, a search space that does not exist) is a
`ConfigError`: one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from zlib import crc32

from omegaconf import DictConfig, OmegaConf

from research.config.benchmark_files import Workload, study_name
from research.config.compose import CONF
from research.config.errors import ConfigError

SAMPLERS = ("random", "tpe", "qmc", "gp", "cmaes")
PRUNERS = ("none", "median", "hyperband", "successive_halving")


@dataclass(frozen=True)
class Optimizer:
    """A `conf/optimizer` option and the `conf/hparams_search` space of its family."""

    name: str
    search: str
    params: dict[str, str]


@dataclass(frozen=True)
class Benchmark:
    name: str
    out_dir: Path
    storage: str
    budget: int
    seeds: tuple[int, ...]
    sampler: str
    sampler_seed: int
    repeats: int  # studies per workload and optimizer (>= 2 for adaptive samplers)
    pruner: str
    run_overrides: tuple[str, ...]
    sweep_overrides: tuple[str, ...]
    workloads: tuple[Workload, ...]
    optimizers: tuple[Optimizer, ...]

    def study_name(self, workload: Workload, optimizer: Optimizer, repeat: int = 0) -> str:
        return study_name(self.name, workload.name, optimizer.name, self.repeats, repeat)

    def study_seed(self, workload: Workload, optimizer: Optimizer, repeat: int = 0) -> int:
        """Each study draws its own random numbers (`sampler_seed` plus a hash of the study's
        name): with one seed for all, every optimizer with the same space would try the same
        quantiles on every workload, and their errors would be correlated across the table."""
        name = self.study_name(workload, optimizer, repeat)
        return (self.sampler_seed + crc32(name.encode())) % 2**31

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "out_dir": str(self.out_dir)}


def search_params(search: str) -> dict[str, str]:
    """The `hydra.sweeper.params` of a shipped search space: only the space is taken from it,
    the benchmark sets data, model, budget and sampler itself."""
    path = CONF / "hparams_search" / f"{search}.yaml"
    if not path.is_file():
        choices = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml")))
        raise ConfigError(f"search space {search!r} does not exist: choose one of {choices}")
    node = OmegaConf.load(path)
    params = OmegaConf.select(node, "hydra.sweeper.params")
    if not params:
        raise ConfigError(f"{path} has no hydra.sweeper.params to search")
    return {str(k): str(v) for k, v in params.items()}


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"benchmark.{key}={value!r} is invalid: must be an integer >= 1")
    return value


def _choice(value: Any, key: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ConfigError(
            f"benchmark.{key}={value!r} is invalid: must be one of {', '.join(allowed)}"
        )
    return str(value)


def _repeats(node: Mapping[str, Any]) -> int:
    """Random search needs one study (its trials are independent draws); an adaptive sampler's
    curve is the best-so-far averaged over repeated studies, so it needs at least two."""
    repeats = _positive_int(node.get("repeats", 1), "repeats")
    sampler = node.get("sampler", "random")
    if sampler == "random" and repeats != 1:
        raise ConfigError(f"benchmark.repeats={repeats} is invalid with sampler=random: must be 1")
    if sampler != "random" and repeats < 2:
        raise ConfigError(
            f"benchmark.repeats={repeats} is invalid with sampler={sampler}: must be >= 2 "
            "(an adaptive sampler's curve is averaged over repeated studies)"
        )
    return repeats


def _workload(name: str, node: Mapping[str, Any]) -> Workload:
    missing = [
        k for k in ("overrides", "metric", "higher_is_better", "failure_value") if k not in node
    ]
    if missing:
        raise ConfigError(f"benchmark.workloads.{name} lacks {', '.join(missing)}")
    target = node.get("target")
    return Workload(
        name=name,
        overrides=tuple(str(o) for o in node["overrides"]),
        metric=str(node["metric"]),
        test_metric=str(node.get("test_metric") or node["metric"].replace("val/", "test/")),
        higher_is_better=bool(node["higher_is_better"]),
        failure_value=float(node["failure_value"]),
        target=None if target is None else float(target),
    )


def _optimizer(name: str, search: Any) -> Optimizer:
    known = sorted(p.stem for p in (CONF / "optimizer").glob("*.yaml"))
    if name not in known:
        raise ConfigError(
            f"benchmark.optimizers.{name}: no such optimizer: choose from {', '.join(known)}"
        )
    return Optimizer(name=name, search=str(search), params=search_params(str(search)))


def parse(cfg: DictConfig) -> Benchmark:
    """The composed `conf/benchmark.yaml` as a `Benchmark`, or a `ConfigError`."""
    node = OmegaConf.to_container(cfg.benchmark, resolve=True)
    assert isinstance(node, dict)
    seeds = node.get("seeds") or []
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(
            f"benchmark.seeds={seeds!r} is invalid: must be a non-empty list of integers"
        )
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"benchmark.seeds={seeds!r} is invalid: a seed is repeated")
    workloads = node.get("workloads") or {}
    optimizers = node.get("optimizers") or {}
    if not workloads or not optimizers:
        raise ConfigError(
            "benchmark.workloads and benchmark.optimizers must each name at least one"
        )
    return Benchmark(
        name=str(node["name"]),
        out_dir=Path(str(cfg.out_dir)).absolute(),
        storage=str(cfg.storage),
        budget=_positive_int(node.get("budget"), "budget"),
        seeds=tuple(seeds),
        sampler=_choice(node.get("sampler", "random"), "sampler", SAMPLERS),
        sampler_seed=int(node.get("sampler_seed", 0)),
        repeats=_repeats(node),
        pruner=_choice(node.get("pruner", "none"), "pruner", PRUNERS),
        run_overrides=tuple(str(o) for o in node.get("run_overrides") or ()),
        sweep_overrides=tuple(str(o) for o in cfg.get("sweep_overrides") or ()),
        workloads=tuple(_workload(name, w) for name, w in workloads.items()),
        optimizers=tuple(_optimizer(name, s) for name, s in optimizers.items()),
    )
