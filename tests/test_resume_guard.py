"""A resume continues the run it names, or changes nothing: the command a stopped run prints
works when pasted, and a resume that cannot work leaves every file of the run as it was.
And an interruption stays an interruption when W&B's service process dies with the run."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from research.config.same_run import with_run_overrides
from research.training.resume_checks import differences
from tests.conftest import run_cli
from tests.test_reliability import wait_for_validated_epochs

# not the default config: a resume that composed the defaults would build a CNN
RUN = ["data=digits", "model=mlp", "model.width=24", "optimizer=rmsprop", "callbacks=default",
       "logger=csv"]  # fmt: skip


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "research.train", *args],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )  # fmt: skip


def wait_for(path_glob: str, tmp_path: Path, process: subprocess.Popen[str]) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = next(tmp_path.glob(path_glob), None)
        if found is not None:
            return found
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.1)
    raise TimeoutError(path_glob)


def test_the_printed_resume_command_continues_the_same_run(tmp_path: Path) -> None:
    process = start(
        tmp_path, *RUN, "trainer.max_epochs=100000", "callbacks.last_checkpoint.every_s=0"
    )
    wait_for("outputs/*/*/checkpoints/last.ckpt", tmp_path, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    line = stderr.strip().splitlines()[-1]
    command = shlex.split(line.split("continue it with: ", 1)[1])
    assert command[:3] == ["python", "-m", "research.train"], line
    run_dir = Path(command[-1].removeprefix("hydra.run.dir="))
    epochs_before = json.loads((run_dir / "results.json").read_text())["epochs"]

    # exactly as printed, with one more override: the epochs it should end at
    done = epochs_before + 2
    resumed = run_cli(*command[3:], f"trainer.max_epochs={done}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    record = json.loads((run_dir / "results.json").read_text())
    assert (record["status"], record["epochs"]) == ("completed", done)
    assert record["config"]["model"]["_target_"] == "research.models.mlp.MLP"
    assert record["config"]["model"]["width"] == 24
    assert record["config"]["optimizer"]["_target_"] == "research.optim.RMSprop"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("finished")
    proc = run_cli(*RUN, "trainer.max_epochs=2", "hydra.run.dir=run", cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cwd / "run"


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        (["optimizer.lr=0.5"], "optimizer.lr: 0.001 -> 0.5"),
        (["optimizer=sgd"], "optimizer._target_: research.optim.RMSprop -> research.optim.SGD"),
        (["model=cnn"], "model._target_: research.models.mlp.MLP -> research.models.cnn.CNN"),
        (["seed=7"], "seed: 0 -> 7"),
        (["data.batch_size=16"], "data.batch_size: 32 -> 16"),
        ([], "has already trained 2 epochs, and trainer.max_epochs=2"),
    ],
)
def test_a_resume_that_cannot_work_changes_no_file(
    finished_run: Path, overrides: list[str], said: str
) -> None:
    before = digests(finished_run)
    more = ["trainer.max_epochs=4"] if overrides else []
    proc = run_cli("ckpt_path=last", f"hydra.run.dir={finished_run}", *overrides, *more,
                   cwd=finished_run.parent)  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and said in line, line
    assert digests(finished_run) == before


def test_an_unreadable_checkpoint_is_one_line_and_changes_no_file(
    finished_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    subprocess.run(["cp", "-a", str(finished_run), str(run)], check=True)
    checkpoint = run / "checkpoints" / "last.ckpt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:5000])  # a copy cut short
    before = digests(run)
    proc = run_cli("ckpt_path=last", f"hydra.run.dir={run}", "trainer.max_epochs=4", cwd=tmp_path)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: ckpt_path={checkpoint.absolute()} cannot be read"), line
    assert digests(run) == before


def test_the_run_s_own_overrides_come_first_and_the_user_s_win(tmp_path: Path) -> None:
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "overrides.yaml").write_text(
        "- optimizer=rmsprop\n- model=gru\n- trainer.max_epochs=6\n- ckpt_path=old.ckpt\n"
    )
    args = ["ckpt_path=last", f"hydra.run.dir={tmp_path}", "trainer.max_epochs=9"]
    assert with_run_overrides(args) == ["optimizer=rmsprop", "model=gru", *args]
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- model=mlp\n- model.width=24\n")
    assert with_run_overrides([*args, "model=cnn"]) == [*args, "model=cnn"]
    assert with_run_overrides(["-m", *args]) == ["-m", *args]  # a sweep is not a resume
    elsewhere = ["ckpt_path=/some/other.ckpt", f"hydra.run.dir={tmp_path}"]
    assert with_run_overrides(elsewhere) == elsewhere


def test_differences_name_each_changed_setting_and_ignore_the_rest() -> None:
    before = {"optimizer": {"lr": 0.1, "impl": "auto"}, "seed": 0, "trainer": {"max_epochs": 2}}
    now = {"optimizer": {"lr": 0.2, "impl": "foreach"}, "seed": 0, "trainer": {"max_epochs": 9}}
    assert differences(before, now) == ["optimizer.lr: 0.1 -> 0.2"]


def test_sigterm_to_the_run_and_its_wandb_service_is_an_interruption(tmp_path: Path) -> None:
    """What scancel does with the default loggers: every process of the job gets SIGTERM,
    W&B's service included; the run must still be recorded as interrupted, with its checkpoint."""
    process = start(tmp_path, *RUN[:-1], "logger=default", "trainer.max_epochs=100000",
                    env={"WANDB_MODE": "offline"})  # fmt: skip
    run_dir = wait_for_validated_epochs(tmp_path)
    services = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True)
    children = [int(pid) for pid in services.stdout.split()]
    assert children, "wandb-core runs as a child of the run"
    for pid in [process.pid, *children]:
        os.kill(pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    record = json.loads((run_dir / "results.json").read_text())
    assert record["status"] == "failed"
    assert record["reason"] == "RunInterrupted: interrupted by SIGTERM"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
