"""The first hour of a user: what a run prints, how it resumes, and the one-line errors, all
checked on real runs of `python -m research.train`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from research.tracking.metadata import git_commit
from research.train import interrupted_line
from research.training.pipeline import train
from research.training.signals import RunInterrupted
from tests import docs
from tests.conftest import TINY, csv_rows, run_cli

LIBRARY_NOISE = (
    "💡 Tip",
    "litlogger",
    "litmodels",
    "Experiment logs directory",
    "anonymous setting",
    "LeafSpec",
    "`srun` command is available",
    "v_num",
    "`weights_only` was not set",
    "You have overridden `transfer_batch_to_device`",
    "Traceback",
)


def wandb_run_ids(run_dir: Path) -> set[str]:
    return {p.name.rsplit("-", 1)[1] for p in (run_dir / "wandb").glob("offline-run-*")}


def test_a_run_prints_its_result_and_no_library_noise(tmp_path: Path) -> None:
    result = run_cli(*TINY, "logger=default", "callbacks=default", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(next(tmp_path.glob("outputs/*/*/results.json")).read_text())
    summary = result.stdout
    assert f"completed in {record['wall_time_s']:.1f} s: 2 epochs" in summary
    assert f"val/acc    final {record['final']['val/acc']:.4f}" in summary
    assert f"test/acc   {record['final']['test/acc']:.4f}" in summary
    assert f"results: {record['output_dir']}/results.json" in summary
    for noise in LIBRARY_NOISE:
        assert noise not in result.stdout + result.stderr, noise
    assert "loss=" in result.stdout and "val/acc=" in result.stdout  # the bar (no TTY: stdout)


def test_a_multirun_ends_with_a_table_of_its_jobs(tmp_path: Path) -> None:
    result = run_cli(
        "-m", *TINY, "trainer.max_epochs=1", "optimizer.lr=0.001,0.01,1e38", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    table = result.stdout[result.stdout.index("job  status") :].splitlines()[:4]
    assert [line.split()[:2] for line in table[1:]] == [
        ["0", "completed"],
        ["1", "completed"],
        ["2", "diverged"],
    ]
    for line, job in zip(table[1:], range(3), strict=True):
        record = json.loads(next(tmp_path.glob(f"multirun/*/*/{job}/results.json")).read_text())
        value = record["optimized_value"]
        assert ("—" if value is None else f"{value:.4f}") in line
        assert record["output_dir"].endswith(line.split()[-1])
    for noise in LIBRARY_NOISE[:-1]:
        assert noise not in result.stdout + result.stderr, noise


def test_resume_in_place_keeps_every_row_the_wandb_run_and_the_history(tmp_path: Path) -> None:
    run = [*TINY, "logger=default", "callbacks=default", "hydra.run.dir=run"]
    first = run_cli(*run, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    run_dir = tmp_path / "run"
    before, first_record = csv_rows(run_dir), json.loads((run_dir / "results.json").read_text())
    second = run_cli(*run, "trainer.max_epochs=3", "ckpt_path=last", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    after, record = csv_rows(run_dir), json.loads((run_dir / "results.json").read_text())
    trained = [row for row in before if not row["test/acc"]]  # the resumed run tests again
    assert after[: len(trained)] == trained and len(after) > len(before)
    assert len(wandb_run_ids(run_dir)) == 1, "the resumed run logs into the same W&B run"
    assert [h["epoch"] for h in record["history"]] == [0, 1, 2]
    assert all(isinstance(h["epoch"] + h["step"], int) for h in record["history"])
    assert record["wall_time_s"] > first_record["wall_time_s"]
    assert "Experiment logs directory" not in second.stderr
    assert "Restoring states" not in second.stdout + second.stderr, "Lightning's two lines"
    assert "Resuming from " in second.stdout and "2 epochs and " in second.stdout

    done = run_cli(*run, "trainer.max_epochs=3", "ckpt_path=last", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {run_dir}/checkpoints/last.ckpt has already trained 3 epochs, and "
        "trainer.max_epochs=3: set trainer.max_epochs above 3 to train on"
    )
    assert csv_rows(run_dir) == after, "a refused resume changes nothing"


class SigtermAt(pl.Callback):
    """Sends this process a SIGTERM in the middle of a training batch, as a scheduler would."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer: pl.Trainer, module: object, batch, idx: int) -> None:
        if trainer.current_epoch == self.epoch and idx == self.batch:
            os.kill(os.getpid(), signal.SIGTERM)


class BarSeen(pl.Callback):
    """What the progress bar shows at each batch end: its label and total."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        bar = trainer.progress_bar_callback.train_progress_bar
        self.seen.append((bar.desc, bar.total))


def test_the_bar_shows_the_training_loss_of_an_epoch_shorter_than_the_log_interval(
    make_cfg, tmp_path: Path
) -> None:
    """41 steps an epoch, a loss window logged every 50: the bar still shows a loss."""
    drawn: list[str] = []

    class LastDrawn(pl.Callback):
        def on_train_end(self, trainer: pl.Trainer, *args: object) -> None:
            drawn.append(trainer.progress_bar_callback.train_progress_bar.postfix)

    cfg = make_cfg(*TINY, "callbacks=default", "trainer.max_epochs=1", output_dir=tmp_path / "r")
    train(cfg, extra_callbacks=[LastDrawn()])
    record = json.loads((tmp_path / "r" / "results.json").read_text())
    assert record["global_step"] < cfg.trainer.log_every_n_steps
    assert drawn[0].startswith(f"loss={record['final']['train/loss_epoch']:.4g}, ")


def test_sigterm_checkpoints_mid_epoch_and_the_resumed_run_matches_one_without(
    make_cfg, tmp_path: Path
) -> None:
    settings = [*TINY, "trainer.max_epochs=3", "steps_per_batch=4", "trainer.log_every_n_steps=7"]
    whole = tmp_path / "whole"
    train(make_cfg(*settings, output_dir=whole))
    split = tmp_path / "split"
    with pytest.raises(RunInterrupted, match="SIGTERM"):
        train(make_cfg(*settings, output_dir=split), extra_callbacks=[SigtermAt(1, 3)])
    checkpoint = torch.load(split / "checkpoints/last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["run_record"]["steps_into_epoch"] == 4 * 4
    bar = BarSeen()
    train(make_cfg(*settings, "ckpt_path=last", output_dir=split), extra_callbacks=[bar])
    assert bar.seen[0] == ("Epoch 1: ", 41), "the resumed epoch's bar has its number and total"
    expected, got = (json.loads((p / "results.json").read_text()) for p in (whole, split))
    assert got["global_step"] == expected["global_step"]
    assert got["final"] == expected["final"] and got["history"] == expected["history"]
    assert csv_rows(split) == csv_rows(whole)


def test_config_error_leaves_no_run_folder(tmp_path: Path) -> None:
    result = run_cli(*TINY, "optimizer.lr=-1", "hydra.run.dir=run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: optimizer.lr=-1 is invalid: must be >= 0"
    assert not (tmp_path / "run").exists()


def test_a_run_stopped_before_its_first_step_leaves_no_folder(tmp_path: Path) -> None:
    """What Hydra and the loggers wrote before training is no run; a record or checkpoint is."""
    unused, kept = tmp_path / "unused", tmp_path / "kept"
    for run_dir in (unused, kept):
        (run_dir / ".hydra").mkdir(parents=True)
        (run_dir / "wandb" / "offline-run-x").mkdir(parents=True)
        for name in ("train.log", "hparams.yaml"):
            (run_dir / name).write_text("")
    (kept / "results.json").write_text("{}")
    assert interrupted_line("SIGINT", unused).endswith(
        "before training: nothing to keep, run it again"
    )
    assert not unused.exists()
    assert interrupted_line("SIGINT", kept).startswith("interrupted by SIGINT: the run's record")
    assert (kept / "wandb").is_dir()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
@pytest.mark.parametrize("trainer", ["gpu", "ddp"])
def test_gpu_trainer_without_a_gpu_is_one_line(tmp_path: Path, trainer: str) -> None:
    result = run_cli(*TINY, f"trainer={trainer}", "hydra.run.dir=run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: trainer.accelerator=gpu needs a CUDA GPU, and torch finds none here: "
        "use trainer=cpu (or trainer=ddp_cpu for DDP across CPU processes)"
    )
    assert not (tmp_path / "run").exists()


def test_download_without_network_is_one_line(tmp_path: Path) -> None:
    """Needs a machine without network access, as CI's is; with one, MNIST would download."""
    result = run_cli(
        "data=mnist", "data.download=true", f"paths.data_dir={tmp_path / 'none'}", cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: MNIST could not be downloaded into "), last
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "none").exists(), "a failed download leaves no empty folder"


FOREVER = ["trainer.max_epochs=100000", "hydra.run.dir=run"]


def test_ctrl_c_is_one_line_and_keeps_the_record(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "research.train", *TINY, "callbacks=default", *FOREVER],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = tmp_path / "run/results.json"
    while not (tmp_path / "run/metrics.csv").exists():  # training has begun
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    checkpointed = (tmp_path / "run/checkpoints/last.ckpt").is_file()
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith("interrupted by SIGINT: the run's record")
    assert checkpointed, "Ctrl-C during training checkpoints the state, as SIGTERM does"
    assert "continue it with: python -m research.train ckpt_path=last" in last_line, last_line
    assert not docs.missing_lines("interrupted-line", last_line), last_line
    assert json.loads(results.read_text())["history"]


def test_untracked_code_marks_the_commit_dirty(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "research").mkdir()
    (tmp_path / "research/train.py").write_text("")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert not git_commit(tmp_path / "research").endswith("+dirty")
    (tmp_path / "notes.txt").write_text("outside the code folders")
    assert not git_commit(tmp_path / "research").endswith("+dirty")
    (tmp_path / "research/adabelief.py").write_text("")
    assert git_commit(tmp_path / "research").endswith("+dirty")


def _spin() -> None:
    while True:
        pass


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs a core to leave busy")
def test_a_run_beside_busy_cores_takes_one_thread_and_says_so(tmp_path: Path) -> None:
    """Every usable core spins in another process: the run takes one thread, not torch's one
    per core (which waits on threads that are not scheduled), and says why in one line."""
    import multiprocessing

    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    default = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout.strip()  # fmt: skip
    spinners = [multiprocessing.Process(target=_spin) for _ in os.sched_getaffinity(0)]
    for spinner in spinners:
        spinner.start()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "research.train", *TINY, "trainer.max_epochs=1"],
            cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.join()
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if "torch threads:" in line]
    assert len(lines) == 1 and f"torch threads: 1, not {default}: " in lines[0], lines
    assert lines[0].endswith("busy with other processes (set torch_threads to choose)")


def test_a_chosen_thread_count_is_kept_and_not_announced(tmp_path: Path) -> None:
    result = run_cli(*TINY, "trainer.max_epochs=1", "torch_threads=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "torch threads:" not in result.stdout + result.stderr


@pytest.mark.slow
def test_the_threads_benchmark_writes_its_table(tmp_path: Path) -> None:
    script = Path(__file__).parents[1] / "scripts" / "bench_threads.py"
    table = tmp_path / "threads.md"
    result = subprocess.run(
        [sys.executable, script, "--overrides", *TINY, "trainer.max_epochs=1",
         "--markdown", table],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in table.read_text().splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 7 and rows[1].endswith("| 1.00x |")
    assert table.read_text().startswith("<!-- measured by `")
