"""The protocol in order: every tuning study, then the final runs of the tuned best and of the
defaults over S seeds. `benchmark.json` in the output folder says what the report reads."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from research.benchmark.launch import StepFailed, run_steps
from research.benchmark.progress import reporting
from research.benchmark.spec import Benchmark
from research.benchmark.steps import Step, final_step, tuning_step
from research.benchmark.studies import (
    counted_trials,
    fail_orphaned_trials,
    open_benchmark_storage,
    progress_counts,
    tuned_params,
)
from research.config.benchmark_files import MANIFEST, VARIANTS
from research.config.errors import ConfigError

log = logging.getLogger(__name__)


class ProtocolError(RuntimeError):
    """A step of the protocol failed: its log names the reason."""


# What a resumed benchmark must share with the one that started in its folder: studies and
# tuned runs made under other settings would be mixed in. Seeds may be added; targets changed.
FIXED = ("name", "budget", "sampler", "sampler_seed", "repeats", "pruner")


def check_same_protocol(bench: Benchmark, path: Path) -> None:
    if not path.is_file():
        return
    before = json.loads(path.read_text())
    now = json.loads(json.dumps(bench.as_dict()))  # tuples as lists, as the file has them
    for key in FIXED:
        if key in before and before[key] != now[key]:
            raise ConfigError(
                f"{bench.out_dir} holds benchmark {before['name']} with {key}={before[key]!r}, "
                f"not {now[key]!r}: give another out_dir=... for the new settings"
            )
    for key in ("workloads", "optimizers"):
        old = {w["name"]: w for w in before[key]}
        for item in now[key]:
            if item["name"] in old and _protocol_part(old[item["name"]]) != _protocol_part(item):
                raise ConfigError(
                    f"{bench.out_dir} ran {key} {item['name']} with other settings: "
                    "give another out_dir=... for the new settings"
                )


def _protocol_part(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != "target"}


def write_manifest(bench: Benchmark) -> Path:
    bench.out_dir.mkdir(parents=True, exist_ok=True)
    path = bench.out_dir / MANIFEST
    check_same_protocol(bench, path)
    path.write_text(json.dumps({**bench.as_dict(), "variants": list(VARIANTS)}, indent=2))
    return path


def run(bench: Benchmark, parallel: int, progress_every_s: float) -> None:
    write_manifest(bench)
    storage = open_benchmark_storage(bench)
    pairs = [(w, o) for w in bench.workloads for o in bench.optimizers]

    began = time.monotonic()
    with reporting(lambda: progress_counts(bench, storage), progress_every_s, log.info):
        orphans = fail_orphaned_trials(bench, storage)
        if orphans:
            log.info(
                "%d trial(s) of a killed sweep never started: marked failed, not counted", orphans
            )
        tuning = [
            tuning_step(bench, w, o, r)
            for w, o in pairs
            for r in range(bench.repeats)
            if counted_trials(storage, bench.study_name(w, o, r)) < bench.budget
        ]
        _check(run_steps(tuning, parallel))
        finals: list[Step] = []
        for workload, optimizer in pairs:
            params = {"tuned": tuned_params(bench, storage, workload, optimizer), "default": {}}
            for variant in VARIANTS:
                if params[variant] is None:
                    log.warning(
                        "%s/%s: no trial completed, no tuned runs", workload.name, optimizer.name
                    )
                    continue
                step = final_step(bench, workload, optimizer, variant, params[variant])
                if step is not None:
                    finals.append(step)
        _check(run_steps(finals, parallel))
    log.info("Benchmark %s done in %.0f s: %s", bench.name, time.monotonic() - began, bench.out_dir)


def _check(failures: list[StepFailed]) -> None:
    if failures:
        raise ProtocolError("\n".join(f.message() for f in failures))
