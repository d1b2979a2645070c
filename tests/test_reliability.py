"""What must survive things going wrong: signals, secrets, atomic records."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from research.tracking.results import write_json_atomic
from research.training.signals import RunInterrupted, interruption_in
from tests.conftest import TINY, csv_rows, run_cli


def start_long_run(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "research.train", *TINY, "trainer.max_epochs=100000", *extra],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WANDB_MODE": "offline"},
    )


def wait_for_validated_epochs(tmp_path: Path, timeout_s: float = 120) -> Path:
    """The run's folder, once metrics.csv shows finished (validated) epochs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for metrics in tmp_path.glob("outputs/*/*/metrics.csv"):
            if "val/acc" in metrics.read_text().partition("\n")[0]:
                return metrics.parent
        time.sleep(0.2)
    raise TimeoutError("the run never finished an epoch")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_ends_the_run_as_failed_with_its_record(tmp_path: Path, signum: int) -> None:
    process = start_long_run(tmp_path, "logger=default")
    run_dir = wait_for_validated_epochs(tmp_path)
    process.send_signal(signum)
    process.communicate(timeout=120)
    assert process.returncode != 0
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "failed"
    assert signal.Signals(signum).name in results["reason"], results["reason"]
    assert results["history"], "epochs finished before the signal are kept"


def test_no_secret_reaches_any_file(tmp_path: Path) -> None:
    secret = "0123456789abcdef0123456789abcdef01234567"
    result = run_cli(
        *TINY, "trainer.max_epochs=1", "logger=default", cwd=tmp_path, env={"WANDB_API_KEY": secret}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert not leaked


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_json_atomic(target, {"status": "completed"})
    circular: dict[str, object] = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular"):
        write_json_atomic(target, circular)
    assert json.loads(target.read_text()) == {"status": "completed"}
    assert list(tmp_path.iterdir()) == [target], "no temporary file is left behind"


def test_checkpoint_write_is_atomic(tmp_path: Path) -> None:
    from research.tracking.checkpoint_io import AtomicCheckpointIO

    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"epoch": 1}, path)
    with pytest.raises(AttributeError):  # fails half-way through pickling
        io.save_checkpoint({"epoch": 2, "unpicklable": lambda: None}, path)
    assert io.load_checkpoint(path, weights_only=True) == {"epoch": 1}
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_atomic_files_get_the_mode_of_every_other_new_file(tmp_path: Path, umask: int) -> None:
    from research.tracking.checkpoint_io import AtomicCheckpointIO

    before = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "results.json", {"status": "completed"})
        AtomicCheckpointIO().save_checkpoint({"epoch": 1}, tmp_path / "last.ckpt")
        (tmp_path / "metrics.csv").write_text("step\n")
    finally:
        os.umask(before)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(("results.json", "last.ckpt", "metrics.csv"), 0o666 & ~umask)


def test_sigkilled_run_resumes_to_the_same_metrics(tmp_path: Path) -> None:
    run = [
        *TINY,
        "callbacks=default",
        "callbacks.last_checkpoint.every_s=0",
        "trainer.max_epochs=40",
    ]
    reference = run_cli(*run, "hydra.run.dir=reference", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr[-2000:]

    process = subprocess.Popen(
        [sys.executable, "-m", "research.train", *run, "hydra.run.dir=killed"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=60)
    assert not (tmp_path / "killed" / "results.json").exists(), "killed before the end"

    resumed = run_cli(*run, "hydra.run.dir=killed", "ckpt_path=last", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = json.loads((tmp_path / "reference" / "results.json").read_text())
    actual = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert actual["final"] == expected["final"]
    assert actual["history"] == expected["history"]
    # rows are written before each checkpoint: none is lost with the killed process
    assert csv_rows(tmp_path / "killed") == csv_rows(tmp_path / "reference")


def test_online_wandb_without_network_falls_back_to_offline_quickly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from research.tracking.wandb_logger import resolve_mode

    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    started = time.monotonic()
    assert resolve_mode("online") == "offline"
    assert time.monotonic() - started < 10


def test_a_signal_re_raised_as_another_error_is_still_named() -> None:
    """A signal landing inside `inspect.getfullargspec` (Lightning calls it) comes out as
    TypeError("unsupported callable"); the run's record must still name the signal."""

    class Interrupting:
        @property
        def __signature__(self) -> None:
            raise RunInterrupted(signal.SIGTERM)

        def __call__(self) -> None: ...

    with pytest.raises(TypeError, match="unsupported callable") as caught:
        inspect.getfullargspec(Interrupting())
    interrupt = interruption_in(caught.value)
    assert interrupt is not None and interrupt.signum == signal.SIGTERM
    assert interruption_in(TypeError("unrelated")) is None
