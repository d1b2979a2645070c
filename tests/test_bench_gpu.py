"""scripts/bench_gpu.py: its idle-time arithmetic, and a run of it on the CPU (no GPU here)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_gpu.py"


def load_bench_gpu() -> ModuleType:
    """scripts/ is not a package: load the script as a module."""
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("intervals", "busy"),
    [
        ([], 0.0),
        ([(0.0, 2.0), (5.0, 6.0)], 3.0),  # apart
        ([(0.0, 4.0), (1.0, 2.0)], 4.0),  # one inside another
        ([(3.0, 6.0), (0.0, 4.0), (5.0, 7.0)], 7.0),  # overlapping, unsorted
        ([(0.0, 1.0), (1.0, 2.0)], 2.0),  # touching
    ],
)
def test_busy_time_is_the_union_of_kernel_intervals(
    intervals: list[tuple[float, float]], busy: float
) -> None:
    assert load_bench_gpu().busy_seconds(intervals) == busy


@pytest.mark.slow
def test_bench_gpu_measures_every_variant_on_the_cpu() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--device=cpu",
            "--cases=cnn",
            "--epochs=3",
            "--overrides",
            "trainer.limit_train_batches=4",
            "logger=csv",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = re.findall(r"^cnn\s+(.+?)\s+([\d,]+)\s+([\d.]+)%$", done.stdout, re.MULTILINE)
    assert [variant for variant, _, _ in rows] == [
        "fp32",
        "bf16-mixed",
        "fp32 + compile",
        "bf16-mixed + compile",
    ]
    for _, samples_per_s, idle in rows:
        assert int(samples_per_s.replace(",", "")) > 0 and 0 <= float(idle) < 100
