"""End-to-end training through the real config, Lightning Trainer and writers."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import pytorch_lightning as pl
from omegaconf import DictConfig

from research.models.base import IncompatibleDataError
from research.tracking.results import read_results
from research.training.chunked_steps import adopt_automatic_step_count
from research.training.pipeline import train
from tests.conftest import TINY, wandb_records

MakeCfg = Callable[..., DictConfig]

MODEL_DATA_PAIRS = [
    (model, data)
    for data, models in {
        "mnist1d": ["logreg", "mlp", "cnn", "lstm", "gru", "transformer"],
        "digits": ["logreg", "mlp", "cnn", "lstm", "gru", "transformer"],
        "modular_arithmetic": ["logreg", "mlp", "lstm", "gru", "transformer"],
    }.items()
    for model in models
]
SMALL_DATA = {
    "mnist1d": ["data.num_samples=600"],
    "digits": [],
    "modular_arithmetic": ["data.p=11"],
}


@pytest.mark.parametrize(("model", "data"), MODEL_DATA_PAIRS)
def test_every_compatible_pair_trains_an_epoch(make_cfg: MakeCfg, model: str, data: str) -> None:
    cfg = make_cfg(
        f"model={model}", f"data={data}", *SMALL_DATA[data], "trainer.max_epochs=1",
        "logger=none", "callbacks=none",
    )  # fmt: skip
    value = train(cfg)
    results = read_results(Path(cfg.paths.output_dir))
    assert results["status"] == "completed"
    assert results["epochs"] == 1 and results["global_step"] > 0
    assert value == results["final"]["val/acc"]
    assert 0.0 <= results["final"]["test/acc"] <= 1.0


def test_text_language_model_trains(make_cfg: MakeCfg, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 60)
    cfg = make_cfg(
        "data=text", f"data.path={corpus}", "data.seq_len=32", "model=gru",
        "trainer.max_epochs=3", "logger=none", "callbacks=none",
    )  # fmt: skip
    train(cfg)
    results = read_results(Path(cfg.paths.output_dir))
    assert results["final"]["val/acc"] > 0.3, "a repeated sentence is easy to predict"


def test_incompatible_pair_fails_before_training(make_cfg: MakeCfg) -> None:
    cfg = make_cfg("model=cnn", "data=modular_arithmetic", "data.p=5", "logger=none")
    with pytest.raises(IncompatibleDataError, match="cannot take tokens input"):
        train(cfg)
    assert not (Path(cfg.paths.output_dir) / "results.json").exists()


def test_results_json_is_a_complete_record(make_cfg: MakeCfg) -> None:
    cfg = make_cfg(*TINY)
    train(cfg)
    out = Path(cfg.paths.output_dir)
    results = read_results(out)
    assert results["status"] == "completed" and results["reason"] is None
    assert set(results["final"]) == {
        "train/loss_epoch", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc",
    }  # fmt: skip
    assert results["epochs"] == 2 and len(results["history"]) == 2
    history_acc = [epoch["val/acc"] for epoch in results["history"]]
    assert results["best"]["val/acc"] == max(history_acc)
    assert results["final"]["val/acc"] == history_acc[-1]
    assert results["seed"] == 0 and results["config"]["data"]["batch_size"] == 32
    assert {"torch", "pytorch-lightning", "hydra-core"} <= set(results["versions"])
    assert results["wall_time_s"] > 0

    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    logged = {key for row in rows for key, value in row.items() if value}
    assert {"train/loss", "train/acc", "val/acc", "val/loss", "test/acc", "step"} <= logged
    val_rows = [float(row["val/acc"]) for row in rows if row["val/acc"]]
    assert val_rows == pytest.approx(history_acc)


class EpochMetricsSeen(pl.Callback):
    """What a callback reads at the end of each training epoch."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, *args: object) -> None:
        metrics = trainer.callback_metrics
        self.seen.append(
            (trainer.global_step, float(metrics["train/loss_epoch"]), float(metrics["train/acc"]))
        )


def test_training_epoch_metrics_reach_callbacks_and_loggers(
    make_cfg: MakeCfg, tmp_path: Path
) -> None:
    cfg = make_cfg(
        *(o for o in TINY if not o.startswith("callbacks=")),
        "trainer.max_epochs=3",
        "+callbacks.best_checkpoint._target_=pytorch_lightning.callbacks.ModelCheckpoint",
        f"+callbacks.best_checkpoint.dirpath={tmp_path / 'best'}",
        "+callbacks.best_checkpoint.monitor=train/loss_epoch",
        "+callbacks.best_checkpoint.mode=min",
    )
    seen = EpochMetricsSeen()
    train(cfg, extra_callbacks=[seen])
    out = Path(cfg.paths.output_dir)
    with open(out / "metrics.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row["train/loss_epoch"]]
    logged = [
        (int(r["step"]) + 1, float(r["train/loss_epoch"]), float(r["train/acc"])) for r in rows
    ]
    history = [
        (int(e["step"]), e["train/loss_epoch"], e["train/acc"])
        for e in read_results(out)["history"]
    ]
    assert seen.seen == logged == history and len(logged) == 3
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert list((tmp_path / "best").glob("*.ckpt")), "the monitor found its metric"


def test_progress_bar_can_be_switched_off_with_the_default_callbacks(make_cfg: MakeCfg) -> None:
    overrides = [o for o in TINY if not o.startswith("callbacks=")]
    cfg = make_cfg(*overrides, "trainer.enable_progress_bar=false")
    train(cfg)
    assert read_results(Path(cfg.paths.output_dir))["status"] == "completed"


def test_same_seed_gives_identical_metrics(make_cfg: MakeCfg, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b", "c"):
        seed = "seed=1" if name != "c" else "seed=2"
        cfg = make_cfg(*TINY, seed, output_dir=tmp_path / name)
        train(cfg)
        runs.append(read_results(tmp_path / name))
    assert runs[0]["final"] == runs[1]["final"]
    assert runs[0]["history"] == runs[1]["history"]
    assert runs[0]["final"] != runs[2]["final"]


def test_resume_from_checkpoint_matches_an_uninterrupted_run(
    make_cfg: MakeCfg, tmp_path: Path
) -> None:
    with_ckpt = [o for o in TINY if o != "callbacks=none"] + ["trainer.max_epochs=4"]
    train(make_cfg(*with_ckpt, output_dir=tmp_path / "full"))

    interrupted = tmp_path / "interrupted"
    train(make_cfg(*with_ckpt[:-1], "trainer.max_epochs=2", output_dir=interrupted))
    checkpoint = interrupted / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()
    train(make_cfg(*with_ckpt, "ckpt_path=last", output_dir=interrupted))

    full, resumed = read_results(tmp_path / "full"), read_results(interrupted)
    assert resumed["epochs"] == 4 and resumed["global_step"] == full["global_step"]
    assert resumed["final"] == full["final"]
    assert resumed["history"] == full["history"]


def test_diverging_run_is_recorded_and_stops_early(make_cfg: MakeCfg) -> None:
    cfg = make_cfg(*TINY, "optimizer=torch_adam", "optimizer.lr=1e12", "trainer.max_epochs=5")
    assert train(cfg) is None
    results = read_results(Path(cfg.paths.output_dir))
    assert results["status"] == "diverged"
    assert "step" in results["reason"] and results["global_step"] < 50


def test_wandb_offline_run_is_written_and_finished(make_cfg: MakeCfg) -> None:
    cfg = make_cfg(*TINY, "logger=wandb", "logger.wandb.group=unit", "tags=[t1]")
    train(cfg)
    runs = list((Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0
    import wandb

    assert wandb.run is None, "the run is finished, so the next run in this process is separate"


def test_wandb_history_has_one_row_per_step_with_the_csv_values(make_cfg: MakeCfg) -> None:
    """An epoch's training and validation rows share a step: W&B gets them as one row."""
    cfg = make_cfg(*TINY, "logger=default", "trainer.max_epochs=3")
    train(cfg)
    out = Path(cfg.paths.output_dir)
    (run_dir,) = (out / "wandb").glob("offline-run-*")
    history = [r["history"]["item"] for r in wandb_records(run_dir) if r["type"] == "history"]
    steps = [row["trainer/global_step"] for row in history]
    assert steps == sorted(set(steps)), "one W&B row per trainer step, in order"
    expected: dict[int, dict[str, float]] = {}
    with open(out / "metrics.csv", newline="") as file:
        for row in csv.DictReader(file):
            values = {k: float(v) for k, v in row.items() if v and k != "step"}
            expected.setdefault(int(row["step"]), {}).update(values)
    assert {row["trainer/global_step"] for row in history} == set(expected)
    for row in history:
        logged = {k: float(v) for k, v in row.items() if not k.startswith(("_", "trainer/"))}
        assert logged == expected[row["trainer/global_step"]]
    assert sum("val/acc" in row and "train/loss_epoch" in row for row in history) == 3


def test_wandb_rows_go_in_batches_at_the_time_they_were_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are held until `send_every_s` has passed or the run ends, and keep the time they
    were made. The spy on the real offline run's `log` only records its calls."""
    import wandb

    from research.tracking.wandb_logger import make_wandb_logger

    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = make_wandb_logger(project="p", save_dir=str(tmp_path), send_every_s=3600)
    run = logger.experiment
    sent: list[dict[str, float]] = []
    real_log = run.log
    monkeypatch.setattr(run, "log", lambda row: (sent.append(row), real_log(row))[1])
    made = []
    for step in range(3):
        made.append(time.time())
        logger.log_metrics({"val/acc": step / 10}, step=step)
        time.sleep(0.3)
    assert sent == [], "nothing is sent before send_every_s"
    logger.finalize("success")
    assert [row["trainer/global_step"] for row in sent] == [0, 1, 2]
    wandb.finish()
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    history = [r["history"]["item"] for r in wandb_records(run_dir) if r["type"] == "history"]
    assert [row["val/acc"] for row in history] == [0.0, 0.1, 0.2]
    assert [row["_timestamp"] for row in history] == pytest.approx(made, abs=0.1)


def test_logger_none_still_writes_results(make_cfg: MakeCfg) -> None:
    cfg = make_cfg(*TINY, "logger=none")
    train(cfg)
    out = Path(cfg.paths.output_dir)
    assert not (out / "metrics.csv").exists()
    assert json.loads((out / "results.json").read_text())["status"] == "completed"


@pytest.mark.parametrize("switch", ["trainer.precision=bf16-mixed", "model.compile=true"])
def test_precision_and_compile_switches_train(make_cfg: MakeCfg, switch: str) -> None:
    cfg = make_cfg(*TINY, switch)
    train(cfg)
    results = read_results(Path(cfg.paths.output_dir))
    assert results["status"] == "completed"
    assert results["final"]["val/acc"] > 0.3, "well above chance (0.1) either way"


class ListensToEveryStep(pl.Callback):
    """A per-step hook: the run goes through Lightning's backward and optimizer-step calls."""

    def on_before_optimizer_step(self, *args: object) -> None:
        pass


def run_record(
    make_cfg: MakeCfg, out: Path, *overrides: str, callbacks: tuple[pl.Callback, ...] = ()
) -> tuple[dict, list[list[tuple[str, str]]]]:
    """A run's results.json and its metrics.csv rows (in any order)."""
    train(make_cfg(*overrides, output_dir=out), extra_callbacks=callbacks)
    with open(out / "metrics.csv") as handle:
        rows = sorted(sorted((k, v) for k, v in row.items() if v) for row in csv.DictReader(handle))
    return read_results(out), rows


PROJECTED = [
    "data=online_linear", "data.steps_per_epoch=202", "model=bounded_linear",
    "optimizer.lr=0.5", "optimized_metric=val/loss", "trainer.max_epochs=2",
    "logger=csv", "callbacks=none",
]  # fmt: skip


@pytest.mark.parametrize(
    "overrides",
    [
        [
            *TINY,
            "scheduler=cosine",
            "trainer.gradient_clip_val=0.05",
            "trainer.log_every_n_steps=3",
        ],
        [*TINY, "trainer.max_epochs=-1", "trainer.max_steps=80"],  # inside an epoch's last chunk
        [*TINY, "callbacks=optim_diagnostics", "callbacks.optim_diagnostics.every_n_steps=5"],
        PROJECTED,  # projected onto its constraint after every step
    ],
    ids=["scheduled-clipped", "max-steps", "diagnostics", "projected"],
)
def test_several_steps_per_lightning_batch_change_nothing(
    make_cfg: MakeCfg, tmp_path: Path, overrides: list[str]
) -> None:
    """One optimizer step per Lightning batch is how the loop ran before chunks: every
    metric, logged row and step count must be the same with 7 per batch (a chunk size that
    leaves a short chunk at each epoch's end)."""
    one, one_rows = run_record(make_cfg, tmp_path / "one", *overrides, "steps_per_batch=1")
    seven, seven_rows = run_record(make_cfg, tmp_path / "7", *overrides, "steps_per_batch=7")
    assert seven["status"] == one["status"] == "completed"
    assert seven["global_step"] == one["global_step"] > 0
    for key in ("final", "best", "history"):
        assert seven[key] == one[key], key
    assert seven_rows == one_rows


def test_lightning_step_calls_and_their_shortcut_agree(make_cfg: MakeCfg, tmp_path: Path) -> None:
    """Without per-step listeners the module calls torch's backward and step directly."""
    clipped = [*TINY, "trainer.gradient_clip_val=0.05"]
    direct, direct_rows = run_record(make_cfg, tmp_path / "direct", *clipped)
    hooked, hooked_rows = run_record(
        make_cfg, tmp_path / "hooked", *clipped, callbacks=(ListensToEveryStep(),)
    )
    assert direct["final"] == hooked["final"] and direct["history"] == hooked["history"]
    assert direct_rows == hooked_rows


def test_progress_bar_counts_optimizer_steps(make_cfg: MakeCfg) -> None:
    seen: list[tuple[int, int]] = []

    class Watch(pl.Callback):
        def on_train_epoch_end(self, trainer: pl.Trainer, *args: object) -> None:
            bar = trainer.progress_bar_callback.train_progress_bar
            seen.append((bar.n, bar.total))

    cfg = make_cfg(*TINY, "callbacks=default", "steps_per_batch=7", "trainer.max_epochs=1")
    train(cfg, extra_callbacks=[Watch()])
    assert seen == [(41, 41)], "1,294 training images in batches of 32"


def test_the_bar_is_drawn_at_most_every_min_interval_and_closes_on_its_last_state() -> None:
    from research.training.callbacks.progress import ThrottledTqdm

    screen = io.StringIO()
    bar = ThrottledTqdm(total=100, file=screen, min_interval_s=3600, ascii=True)
    for n in range(1, 101):
        bar.n = n
        bar.set_postfix({"loss": 1 / n})
    drawn = screen.getvalue()
    assert drawn.count("\r") == 1 and "0/100" in drawn, "only the first draw"
    bar.close()
    last = screen.getvalue().rstrip().split("\r")[-1]
    assert "100/100" in last and last.endswith("loss=0.010]")


def test_checkpoint_from_automatic_optimization_resumes_at_its_step() -> None:
    """Checkpoints written before training went manual count steps under the automatic loop."""
    step = {"total": {"ready": 82, "completed": 82}, "current": {"ready": 41, "completed": 41}}
    unset = {"total": {"ready": 0, "completed": 0}, "current": {"ready": 0, "completed": 0}}
    checkpoint = {
        "loops": {
            "fit_loop": {
                "epoch_loop.automatic_optimization.optim_progress": {"optimizer": {"step": step}},
                "epoch_loop.manual_optimization.optim_step_progress": unset,
            }
        }
    }
    adopt_automatic_step_count(checkpoint)
    loop = checkpoint["loops"]["fit_loop"]
    assert loop["epoch_loop.manual_optimization.optim_step_progress"] == step
