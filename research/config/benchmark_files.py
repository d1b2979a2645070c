"""What a benchmark's folder holds, written by `research.benchmark` and read by
`research.leaderboard`: `benchmark.json` (its workloads among the rest), the names of its
studies in the Optuna storage and the folders of its final runs. Both sides read this one
schema, so the runner and the report cannot drift apart; it imports nothing of `research`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "benchmark.json"
# The final runs of each workload and optimizer: the tuned best and the defaults.
VARIANTS = ("tuned", "default")
# Under a variant's folder, one `results.json` per seed that ended.
FINAL_RESULTS = "seed_*/results.json"


@dataclass(frozen=True)
class Workload:
    """A training problem: the metric that is tuned, how a failure scores, its target, and the
    overrides (data, model, epochs) that make it."""

    name: str
    metric: str
    test_metric: str
    higher_is_better: bool
    failure_value: float
    target: float | None
    overrides: tuple[str, ...] = ()

    @classmethod
    def from_manifest(cls, node: Mapping[str, Any]) -> Workload:
        """The inverse of `dataclasses.asdict`, from a workload in `benchmark.json`."""
        target = node["target"]
        return cls(
            name=str(node["name"]),
            metric=str(node["metric"]),
            test_metric=str(node["test_metric"]),
            higher_is_better=bool(node["higher_is_better"]),
            failure_value=float(node["failure_value"]),
            target=None if target is None else float(target),
            overrides=tuple(str(o) for o in node.get("overrides") or ()),
        )


def study_name(benchmark: str, workload: str, optimizer: str, repeats: int, repeat: int) -> str:
    """A tuning study's name in the storage; with repeated studies, each has its number."""
    base = f"{benchmark}/{workload}/{optimizer}"
    return base if repeats == 1 else f"{base}/rep{repeat}"


def runs_dir(out_dir: Path, workload: str, optimizer: str, variant: str) -> Path:
    """The folder of one variant's final runs, a `seed_<n>/` per seed."""
    return out_dir / "runs" / workload / optimizer / variant
