"""The GPU workloads end to end on the CPU, at tiny sizes: the ResNet and the airbench net on
CIFAR files in the real format, the GPT on nanoGPT token files and on bytes of text, and the
finiteness check read in batches."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig

from research.models.base import IncompatibleDataError
from research.sweep.preflight import check_arguments
from research.tracking.results import read_results
from research.training.pipeline import train
from tests.conftest import TINY
from tests.test_data import unchecked_md5, write_cifar10, write_cifar100  # noqa: F401 (fixture)
from tests.test_token_data import write_token_files

MakeCfg = Callable[..., DictConfig]
QUIET = ["logger=none", "callbacks=none", "trainer.enable_progress_bar=false"]


@pytest.mark.usefixtures("unchecked_md5")
@pytest.mark.parametrize(
    ("model", "data", "write"),
    [
        ("resnet18", "cifar10", write_cifar10),
        ("airbench", "cifar100", write_cifar100),
    ],
)
def test_cifar_networks_train_with_augmentation_and_channels_last(
    make_cfg: MakeCfg, tmp_path: Path, model: str, data: str, write
) -> None:
    write(tmp_path / "data")
    tiny = {"resnet18": ["model.widths=[4,8]", "model.blocks=[1,1]"],
            "airbench": ["model.widths=[4,8,8]", "model.patch_width=6"]}  # fmt: skip
    cfg = make_cfg(
        f"model={model}", *tiny[model], f"data={data}", f"paths.data_dir={tmp_path / 'data'}",
        "data.batch_size=4", "trainer.max_epochs=2", *QUIET,
    )  # fmt: skip
    assert cfg.data.augment and cfg.model.channels_last
    train(cfg)
    results = read_results(Path(cfg.paths.output_dir))
    assert results["status"] == "completed" and results["epochs"] == 2
    assert 0.0 <= results["final"]["test/acc"] <= 1.0


def test_gpt_trains_on_nanogpt_token_files(make_cfg: MakeCfg, tmp_path: Path) -> None:
    cycle = np.tile(np.array([5, 40000, 7, 50256, 11]), 120)  # ids across uint16's range
    write_token_files(tmp_path / "tokens", cycle, cycle[:100])
    cfg = make_cfg(
        "model=gpt_tiny", "model.d_model=32", "model.num_heads=2", "data=tokens",
        f"data.path={tmp_path / 'tokens'}", "data.seq_len=8", "data.batch_size=8",
        "trainer.max_epochs=3", "optimizer=adamw", "optimizer.lr=1e-2", *QUIET,
    )  # fmt: skip
    train(cfg)
    results = read_results(Path(cfg.paths.output_dir))
    assert results["status"] == "completed"
    assert results["config"]["data"]["vocab_size"] is None  # read from the files: 50257
    # chance is ln(50257) = 10.8 nats; the five ids of the cycle alone are ln(5) = 1.6
    assert results["final"]["val/loss"] < 2.5


def test_gpt_trains_on_the_bytes_of_a_text_file(make_cfg: MakeCfg, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 60)
    cfg = make_cfg(
        "model=gpt_tiny", "model.d_model=32", "model.num_heads=2", "data=text",
        f"data.path={corpus}", "data.unit=byte", "data.seq_len=32", "data.batch_size=8",
        "trainer.max_epochs=4", "optimizer=adamw", "optimizer.lr=3e-3", *QUIET,
    )  # fmt: skip
    train(cfg)
    assert read_results(Path(cfg.paths.output_dir))["final"]["val/acc"] > 0.5


def test_batched_finiteness_check_names_the_first_bad_step(make_cfg: MakeCfg) -> None:
    """Read every 4 steps, the losses of all 4 are checked: the run stops at the read after
    the first non-finite loss and names that step, not the step of the read."""
    cfg = make_cfg(
        *TINY, "optimizer=torch_adam", "optimizer.lr=1e12", "check_finite_every_n_steps=4"
    )
    assert train(cfg) is None
    results = read_results(Path(cfg.paths.output_dir))
    assert results["status"] == "diverged"
    first_bad = int(re.search(r"at step (\d+)", results["reason"]).group(1))
    read_at = results["global_step"] + 1  # the step whose optimizer step did not run
    assert read_at % 4 == 0 and first_bad <= read_at < first_bad + 4
    assert first_bad % 4 != 0, "a step between two reads was checked"


class SnapshotAt(pl.Callback):
    """Writes a checkpoint after the batch that ends at optimizer step `step`."""

    def __init__(self, step: int, path: Path) -> None:
        self.step, self.path = step, path

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path, weights_only=False)


def test_losses_not_yet_checked_are_kept_by_a_mid_epoch_checkpoint(
    make_cfg: MakeCfg, tmp_path: Path
) -> None:
    """A checkpoint between two reads holds the losses still to check; a run resumed from it
    checks them (a NaN among them stops it) and otherwise ends as the uninterrupted run."""
    run = [*TINY, "trainer.max_epochs=1", "check_finite_every_n_steps=8", "steps_per_batch=3"]
    snapshot = tmp_path / "mid.ckpt"
    train(make_cfg(*run, output_dir=tmp_path / "full"), extra_callbacks=[SnapshotAt(6, snapshot)])
    unchecked = torch.load(snapshot, weights_only=True)["unchecked_losses"]
    assert len(unchecked) == 6 and all(loss.device.type == "cpu" for loss in unchecked)
    train(make_cfg(*run, f"ckpt_path={snapshot}", output_dir=tmp_path / "resumed"))
    full, resumed = read_results(tmp_path / "full"), read_results(tmp_path / "resumed")
    assert resumed["status"] == "completed" and resumed["final"] == full["final"]
    checkpoint = torch.load(snapshot, weights_only=True)
    checkpoint["unchecked_losses"][2] = torch.tensor(float("nan"))  # step 3's, unread at 6
    torch.save(checkpoint, snapshot)
    assert train(make_cfg(*run, f"ckpt_path={snapshot}", output_dir=tmp_path / "nan")) is None
    assert read_results(tmp_path / "nan")["reason"] == "training loss is nan at step 3"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=airbench", "data=digits"], "model AirbenchNet cannot take 8x8 images from "
         "data 'digits': its 3 pooling groups need at least 9x9"),
        (["model=gpt", "data=modular_arithmetic", "data.p=5"], "model GPT only does language "
         "modelling, and data 'modular_arithmetic' is classification: use model=transformer"),
        (["model=resnet18", "data=mnist1d", "data.num_samples=600"],
         "model ResNet cannot take signal input"),
    ],
)  # fmt: skip
def test_impossible_workload_pairs_are_refused_before_training(
    make_cfg: MakeCfg, overrides: list[str], message: str
) -> None:
    """The one line `python -m research.train` prints (tests/test_cli.py runs that path)."""
    cfg = make_cfg(*overrides, "logger=none")
    with pytest.raises(IncompatibleDataError) as error:
        train(cfg)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    assert not (Path(cfg.paths.output_dir) / "results.json").exists()


@pytest.mark.parametrize(
    "override",
    ["model=resnet18", "model=airbench", "model=gpt", "model=gpt_tiny", "model=gpt2_small",
     "model=cnn", "data=cifar10", "data=cifar100", "data=tokens", "data=synthetic", "data=text"],
)  # fmt: skip
def test_every_key_of_the_new_configs_is_an_argument_a_sweep_accepts(
    make_cfg: MakeCfg, override: str
) -> None:
    """What a sweep checks before its first trial (an unknown key would stop every sweep)."""
    group = override.split("=")[0]
    check_arguments(group, make_cfg(override)[group])
