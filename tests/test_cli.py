"""The command line as users type it: fast failures, light start-up, DDP inside a multirun."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import docs
from tests.conftest import TINY, run_cli


def test_cfg_job_and_help_import_no_torch(tmp_path: Path) -> None:
    for flag in ("--cfg=job", "--help"):
        result = run_cli(flag, cwd=tmp_path, env={"PYTHONPROFILEIMPORTTIME": "1"})
        assert result.returncode == 0, result.stderr
        imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
        heavy = {m for m in imported if m.split(".")[0] in {"torch", "pytorch_lightning", "wandb"}}
        assert not heavy, f"{flag} imported {sorted(heavy)[:5]}"
    assert "optimizer" in run_cli("--cfg=job", cwd=tmp_path).stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimizer.lr=-1"], "error: optimizer.lr=-1 is invalid: must be >= 0"),
        (["optimizer.beta1=1.5"], "error: optimizer.beta1=1.5 is invalid: must be in [0, 1)"),
        (["optimizer.beta2=-0.1"], "error: optimizer.beta2=-0.1 is invalid: must be in [0, 1)"),
        (["optimizer.eps=0"], "error: optimizer.eps=0 is invalid: must be > 0"),
        (["trainer.max_epochs=0"], "error: trainer.max_epochs=0 is invalid"),
        (["steps_per_batch=0"], "error: steps_per_batch=0 is invalid: must be an integer >= 1"),
        (["optimized_metric=val/f1"], "error: optimized_metric='val/f1' is invalid"),
        (["optimized_metric=train/loss"], "'train/loss' is invalid: must be an epoch metric"),
        (["data=mnist", "paths.data_dir=nowhere"], "data.download=true"),
        (
            ["callbacks=default", "callbacks.last_checkpoint.every_s=-1"],
            "error: callbacks.last_checkpoint.every_s=-1 is invalid: must be >= 0",
        ),
    ],
)
def test_bad_overrides_fail_fast_with_one_clear_line(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    result = run_cli(*overrides, "logger=none", cwd=tmp_path)
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert message in last_line
    assert not list(tmp_path.glob("outputs/*/*/results.json")), "nothing ran"


@pytest.mark.parametrize("argument", ["model=resnet9000", "model=cnn,resnet9000"])
def test_unknown_group_option_is_one_line_with_the_choices(tmp_path: Path, argument: str) -> None:
    result = run_cli("-m" if "," in argument else "logger=none", argument, cwd=tmp_path)
    assert result.returncode == 2 and not result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: model=resnet9000 is invalid: must be one of ")
    assert "transformer" in line and "cnn" in line and line.endswith("(the files in conf/model/)")


@pytest.mark.parametrize("arguments", [["optimizer.lrr=0.1"], ["-m", "optimizer.lrr=0.1,0.2"]])
def test_unknown_key_is_one_line_naming_the_keys_beside_it(
    tmp_path: Path, arguments: list[str]
) -> None:
    result = run_cli(*arguments, cwd=tmp_path)
    assert result.returncode == 2 and not result.stdout
    (line,) = result.stderr.strip().splitlines()
    did_you_mean = "did you mean optimizer.lr? optimizer has _partial_, _target_, beta1, beta2,"
    assert line.startswith(f"error: optimizer.lrr is not a key of the config: {did_you_mean}")
    assert line.endswith("weight_decay (the arguments of research.optim.Adam)")
    assert not list(tmp_path.iterdir()), "no folder was made"


def test_keys_are_checked_where_the_check_can_know_them() -> None:
    from research.config.unknown_key import unknown_key

    ok = [["optimizer=sgd", "optimizer.lr=0.1", "seed=3"], ["experiment=grokking"],
          ["-m", "model=gru,cnn", "model.hidden_size=8", "optimizer.lr=interval(0.1, 1)"],
          ["+foo=1", "foo=2"], ["~optimizer.eps"], ["hydra.sweeper.anything=1"],
          ["model=glob(*)", "x=1"], ["+optimizer.lr=1"], ["--config-path=/x", "x=1"]]  # fmt: skip
    for arguments in ok:
        assert unknown_key(arguments, "train") is None, arguments
    assert "optimizer has _partial_, _target_, impl, lr, weight_decay " in str(
        unknown_key(["optimizer=sgd", "optimizer.momentum=0.9"], "train")
    )
    assert unknown_key(["seeed=1"], "train").endswith("(to add a key, prefix it with +: +seeed=1)")
    assert unknown_key(["seed.x=1"], "train") == (
        "seed.x is not a key of the config: seed holds a value, not keys "
        "(to add a key, prefix it with +: +seed.x=1)"
    )
    line = unknown_key(["-m", "model=cnn,gru", "model.hidden_size=8"], "train")
    assert line is not None and line.startswith("model.hidden_size is not a key of the config:")
    line = unknown_key(["parallel_studiez=2"], "benchmark")
    assert line is not None and "did you mean parallel_studies?" in line


def test_the_benchmark_refuses_an_unknown_tier_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "research.benchmark", "benchmark=fastt"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: benchmark=fastt is invalid: must be one of fast, full, ")
    assert line.endswith("(the files in conf/benchmark/)")


def test_cli_run_writes_results_into_its_output_folder(tmp_path: Path) -> None:
    result = run_cli(*TINY, "trainer.max_epochs=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (results_file,) = tmp_path.glob("outputs/*/*/results.json")
    results = json.loads(results_file.read_text())
    assert results["status"] == "completed"
    assert (results_file.parent / ".hydra" / "config.yaml").is_file()


def test_ddp_on_two_cpu_processes_inside_a_multirun(tmp_path: Path) -> None:
    """Lightning's DDP launcher re-runs the command for rank 1; in a multirun that must be
    this job again, not a second sweep: one folder per job, no stray run folders."""
    result = run_cli(
        "-m", *TINY, "trainer.max_epochs=1", "trainer=ddp_cpu", "seed=0,1", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = tmp_path.glob("multirun/*/*")
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    assert not (tmp_path / "outputs").exists()
    for job in ("0", "1"):
        results = json.loads((sweep / job / "results.json").read_text())
        assert results["status"] == "completed"
        assert results["config"]["trainer"]["strategy"] == "ddp"
        # 1,294 training images shared by 2 ranks in batches of 32: 21 steps per epoch.
        assert results["global_step"] == 21


def test_default_run_reaches_the_published_accuracy(tmp_path: Path) -> None:
    """The README's first command: CNN on MNIST-1D, Adam; it prints the summary the docs show.
    (Its second, `python -m pytest`, is the suite itself, as CI runs it.)"""
    install = ["pip", "install", "-e", ".[dev]"]
    run_cmd, test_cmd = (c for c in docs.commands("quickstart") if list(c.words[:4]) != install)
    assert run_cmd.program == "python -m research.train"
    assert test_cmd.words == ("python", "-m", "pytest")
    result = run_cli(*run_cmd.args, cwd=tmp_path, env={"WANDB_MODE": "offline"})
    assert result.returncode == 0, result.stderr[-2000:]
    printed = result.stdout + result.stderr
    assert not docs.missing_lines("default-run-summary", printed), printed[-2000:]
    (results_file,) = tmp_path.glob("outputs/*/*/results.json")
    results = json.loads(results_file.read_text())
    assert results["config"]["model"]["_target_"].endswith("CNN")
    assert results["config"]["data"]["_target_"].endswith("MNIST1DDataModule")
    assert results["final"]["test/acc"] >= 0.90


def test_malformed_search_space_fails_before_any_trial(tmp_path: Path) -> None:
    result = run_cli(
        "-m", "hydra/sweeper=optuna", "hydra.sweeper.study_name=bad", "logger=none",
        "optimizer.lr=tag(log, interval(-1, 1))", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: optimizer.lr=tag(log, interval(-1, 1)):")
    assert not list(tmp_path.glob("multirun/*/*/*/results.json"))


def test_group_options_are_checked_only_where_conf_has_the_group(tmp_path: Path) -> None:
    from research.config.group_options import unknown_option

    (tmp_path / "optimizer" / "nested").mkdir(parents=True)
    for name in ("adam.yaml", "nested/lion.yaml"):
        (tmp_path / "optimizer" / name).write_text("{}")
    ok = ["optimizer=adam", "optimizer=nested/lion", "optimizer=adam,nested/lion", "seed=1,2",
          "optimizer=null", "optimizer.lr=0.1", "+optimizer=x", "hydra/sweeper=optuna",
          "optimizer=choice(adam,x)", "model=anything"]  # fmt: skip
    assert unknown_option(ok, conf=tmp_path) is None
    assert unknown_option(["optimizer=adam,adamm"], conf=tmp_path) == (
        "optimizer=adamm is invalid: must be one of adam, nested/lion "
        "(the files in conf/optimizer/)"
    )


def test_group_options_from_a_config_dir_are_known(tmp_path: Path) -> None:
    from research.config.group_options import unknown_option

    (tmp_path / "conf" / "optimizer").mkdir(parents=True)
    (tmp_path / "mine" / "optimizer").mkdir(parents=True)
    (tmp_path / "conf" / "optimizer" / "adam.yaml").write_text("{}")
    (tmp_path / "mine" / "optimizer" / "own.yaml").write_text("{}")
    conf, mine = tmp_path / "conf", str(tmp_path / "mine")
    assert unknown_option([f"--config-dir={mine}", "optimizer=own"], conf=conf) is None
    assert unknown_option(["-cd", mine, "optimizer=own"], conf=conf) is None
    assert unknown_option(["optimizer=own"], conf=conf) is not None
    # another primary config or search path: Hydra alone knows the options
    assert unknown_option(["--config-path=/x", "optimizer=own"], conf=conf) is None
    assert unknown_option(["hydra.searchpath=[pkg://x]", "optimizer=own"], conf=conf) is None
