"""A full disk or a read-only folder: one line naming the path and the OS's reason, and the
last good checkpoint and the metrics written before it are kept. The file system is a real
tmpfs of a few MiB, mounted for the test (root only; CI runs as root)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY, run_cli


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def start_run(cwd: Path, run_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "research.train", *TINY, "callbacks=default",
         "callbacks.last_checkpoint.every_s=0", "trainer.max_epochs=100000",
         f"hydra.run.dir={run_dir}"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def after_first_checkpoint(run_dir: Path, process: subprocess.Popen[str]) -> Path:
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not checkpoint.is_file():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)
    return checkpoint


def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(
    small_disk: Path, tmp_path: Path
) -> None:
    run_dir = small_disk / "run"
    process = start_run(tmp_path, run_dir)
    checkpoint = after_first_checkpoint(run_dir, process)
    with open(small_disk / "filler", "wb") as filler:  # fill what is left of the disk
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("error: cannot write ") and "No space left on device" in line, line
    assert str(run_dir) in line
    state = torch.load(checkpoint, weights_only=True)  # whole: the failed write replaced nothing
    assert state["global_step"] > 0
    assert "val/acc" in (run_dir / "metrics.csv").read_text()


@pytest.mark.parametrize("multirun", [False, True])
def test_a_run_or_sweep_folder_on_a_read_only_disk_is_one_line(
    small_disk: Path, tmp_path: Path, multirun: bool
) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    where = small_disk / "out"
    args = ["-m", *TINY, "seed=0,1", f"hydra.sweep.dir={where}"] if multirun else [
        *TINY, f"hydra.run.dir={where}"]  # fmt: skip
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: cannot create {where}: Read-only file system"
