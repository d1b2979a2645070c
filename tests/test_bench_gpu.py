"""scripts/bench_gpu.py: its arithmetic (idle time, peak, FLOPs, MFU) and its smoke mode on the
CPU (no GPU here): the framework and the bare loop measured in one run."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from omegaconf import DictConfig

from tests.conftest import REPO

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_gpu.py"


def load_bench_gpu() -> ModuleType:
    """scripts/ is not a package: load the script as a module."""
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
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


@pytest.mark.parametrize(
    ("name", "tflops"),
    [
        ("NVIDIA H100 80GB HBM3", 989.4),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H200", 989.4),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA L40S", 362.1),
        ("NVIDIA L4", 121.0),
        ("Tesla T4", None),
    ],
)
def test_peak_is_the_datasheet_dense_bf16_figure(name: str, tflops: float | None) -> None:
    peak = load_bench_gpu().peak_bf16(name)
    assert peak == (None if tflops is None else pytest.approx(tflops * 1e12))


def test_mfu_is_model_flops_per_second_over_the_peak() -> None:
    bench = load_bench_gpu()
    assert bench.mfu(3.33e9, 30_000, 989.4e12) == pytest.approx(0.101, abs=1e-3)
    assert bench.mfu(3.33e9, 30_000, None) is None


def test_gpt_flops_are_the_standard_count(make_cfg: Callable[..., DictConfig]) -> None:
    """Per token: 6 x (12 L d^2 + V d) for the matmuls, the tied head included, plus 12 L T d
    for attention (Kaplan et al. 2020; PaLM's MFU): counted, not assumed."""
    layers, d, vocab, length = 2, 32, 256, 64
    cfg = make_cfg(
        "model=gpt_tiny", f"model.d_model={d}", "model.num_heads=2", f"model.num_layers={layers}",
        "data=synthetic", "data.kind=tokens", f"data.seq_len={length}",
        f"data.vocab_size={vocab}", "data.train_size=4", "data.eval_size=2",
    )  # fmt: skip
    per_token = 6 * (12 * layers * d**2 + vocab * d) + 12 * layers * length * d
    assert load_bench_gpu().flops_per_sample(cfg) == per_token * length


def test_framework_and_bare_loop_are_measured_in_one_run(tmp_path: Path) -> None:
    """The smoke path of one case, in process: both loops timed, profiled and counted."""
    bench = load_bench_gpu()
    m = bench.measure("gpt", "bf16-mixed", "cpu", 3, ["logger=csv", "data.train_size=64"], tmp_path)
    framework, bare = m.rates()
    assert framework > 0 and bare > 0 and m.flops_per_sample > 0
    for clock in (m.framework, m.bare):
        assert len(clock.samples_per_s) == 1, "epoch 0 warms up, epoch 2 is profiled"
        assert 0.0 <= clock.idle_fraction < 1.0


@pytest.mark.slow
def test_bench_gpu_measures_every_case_on_the_cpu() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--device=cpu",
            "--epochs=3",
            "--variants",
            "fp32",
            "bf16-mixed + compile",
            "--peak-tflops=0.5",
            "--overrides",
            "logger=csv",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONPATH": str(REPO)},  # this checkout's research package
    )
    assert done.returncode == 0, done.stderr[-2000:]
    number = r"([\d,.]+(?:e[-+]\d+)?)"  # 2.72e-05 GFLOP: a tiny smoke model
    rows = re.findall(
        rf"^(\w+)\s+(fp32|bf16-mixed \+ compile)\s+{number}\s+{number}\s+{number}\s+"
        rf"{number}%\s+{number}%\s+{number}%\s+{number}%\s+{number}$",
        done.stdout,
        re.MULTILINE,
    )
    assert [(case, variant) for case, variant, *_ in rows] == [
        (case, variant)
        for case in ("cnn", "resnet18", "gpt")
        for variant in ("fp32", "bf16-mixed + compile")
    ], done.stdout[-3000:]
    for _, _, *values in rows:
        framework, bare, ratio, idle, bare_idle, util, bare_util, gflop = (
            float(v.replace(",", "")) for v in values
        )
        assert framework > 0 and bare > 0 and ratio == pytest.approx(bare / framework, rel=0.02)
        assert 0 <= idle < 100 and 0 <= bare_idle < 100
        for rate, utilisation in ((framework, util), (bare, bare_util)):
            expected = 100 * gflop * 1e9 * rate / 0.5e12  # percent, printed to 0.1
            assert utilisation == pytest.approx(expected, rel=0.01, abs=0.06)
