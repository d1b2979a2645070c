"""`python -m research.benchmark`: bad configs fail in one line; the protocol runs end to end
through the real sweeper and Trainer; `budget.csv` and the IQM are recomputed here from the
studies and runs themselves; a re-run resumes without repeating anything, also after a kill."""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from PIL import Image
from scipy.stats import permutation_test, trim_mean

from tests import docs
from tests.conftest import sigint_as_a_terminal_sends_it

ROOT = Path(__file__).resolve().parents[1]
# The quadratic alone, K = 3, S = 2: the whole protocol in about a minute on 2 quiet cores.
QUICK = [
    *docs.command("benchmark-fast").args,  # the README's benchmark command, made small:
    "~benchmark.workloads.cnn_mnist1d",
    "benchmark.budget=3",
    "benchmark.seeds=[0,1]",
]


def benchmark(*overrides: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "research.benchmark", *overrides],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("benchmark.budget=0", "benchmark.budget=0 is invalid: must be an integer >= 1"),
        ("benchmark.seeds=[]", "benchmark.seeds=[] is invalid"),
        ("benchmark.sampler=grid", "must be one of random, tpe"),
        ("benchmark.sampler=tpe", "benchmark.repeats=1 is invalid with sampler=tpe: must be >= 2"),
        (
            "+benchmark.optimizers.nosuch=sgd_lr",
            "no such optimizer: choose from adafactor, adagrad, adam",
        ),
        ("benchmark.optimizers.sgd=nosuch", "search space 'nosuch' does not exist: choose one of"),
    ],
)
def test_a_bad_benchmark_config_fails_in_one_line(
    override: str, message: str, tmp_path: Path
) -> None:
    result = benchmark("benchmark=fast", override, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "benchmarks").exists(), "a refused config leaves no folder"


def _expected_max_by_enumeration(values: list[float], k: int, sign: float) -> float:
    """E[best of k draws with replacement], by listing all N^k equally likely draws."""
    draws = list(itertools.product(values, repeat=k))
    return float(np.mean([sign * max(sign * v for v in draw) for draw in draws]))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_the_protocol_runs_reports_and_resumes(tmp_path: Path) -> None:
    first = benchmark(*QUICK, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "progress: trials 6/6, runs 8/8 (14/14 done)" in first.stderr + first.stdout
    assert not docs.missing_lines("benchmark-progress", first.stderr + first.stdout)
    out = tmp_path / "benchmarks" / "fast"
    storage = f"sqlite:///{out / 'optuna.db'}"
    report = out / "report"

    # budget.csv, recomputed from the studies: failures count as the failure value (220)
    rows = _read_csv(report / "budget.csv")
    assert len(rows) == 2 * 3
    trial_values = {}
    for optimizer in ("sgd", "adam"):
        study = optuna.load_study(study_name=f"fast/quadratic/{optimizer}", storage=storage)
        trials = study.get_trials(deepcopy=False)
        assert len(trials) == 3
        values = [min(t.value, 220.0) if t.state == TrialState.COMPLETE else 220.0 for t in trials]
        trial_values[optimizer] = values
        for row in (r for r in rows if r["optimizer"] == optimizer):
            k = int(row["k"])
            assert float(row["expected_best"]) == pytest.approx(
                _expected_max_by_enumeration(values, k, sign=-1.0), rel=1e-9
            )
            assert float(row["ci_low"]) <= float(row["expected_best"]) <= float(row["ci_high"])
    # leaders.csv: scipy's exact permutation test over the 20 splits of the 3 + 3 trials
    for row in _read_csv(report / "leaders.csv"):
        k = int(row["k"])
        exact = permutation_test(
            (trial_values[row["leader"]], trial_values[row["runner_up"]]),
            lambda x, y, k=k: _expected_max_by_enumeration(list(x), k, -1.0)
            - _expected_max_by_enumeration(list(y), k, -1.0),
            permutation_type="independent", vectorized=False, n_resamples=np.inf,
        )  # fmt: skip
        assert float(row["p_value"]) == pytest.approx(exact.pvalue, rel=1e-9)

    # the IQM, recomputed from the runs' results.json: normalised between the failure value
    # and the best test loss of the workload, a diverged run at the failure value
    runs = {
        path: json.loads(path.read_text()) for path in (out / "runs").glob("*/*/*/*/results.json")
    }
    assert len(runs) == 2 * 2 * 2
    status = {p.parts[-4:-1]: r["status"] for p, r in runs.items()}
    # SGD at its default lr blows up on the quadratic: the runs stop and say so
    assert {s for key, s in status.items() if key[:2] == ("sgd", "default")} == {"diverged"}
    assert {s for key, s in status.items() if key[:2] != ("sgd", "default")} == {"completed"}
    losses = {
        p: 220.0 if r["status"] == "diverged" else min(r["final"]["test/loss"], 220.0)
        for p, r in runs.items()
    }
    best = min(losses.values())
    for row in _read_csv(report / "iqm.csv"):
        mine = [
            (220.0 - loss) / (220.0 - best)
            for p, loss in losses.items()
            if p.parts[-4:-2] == (row["optimizer"], row["variant"])
        ]
        assert float(row["iqm"]) == pytest.approx(trim_mean(mine, 0.25), rel=1e-9)
    finals = {r["optimizer"]: r for r in _read_csv(report / "tuned_vs_default.csv")}
    assert (finals["sgd"]["default_n"], finals["sgd"]["default_diverged"]) == ("0", "2")
    assert (finals["adam"]["default_n"], finals["adam"]["default_diverged"]) == ("2", "0")
    assert (report / "report.html").stat().st_size > 10_000
    assert "Which optimizer leads" in (report / "summary.md").read_text()
    # the docs' copy: the same tables, the figures in a palette
    docs_copy = tmp_path / "docs_copy"
    script = Path(__file__).parents[1] / "scripts" / "benchmark_results.py"
    copied = subprocess.run([sys.executable, script, out, "--out", docs_copy], capture_output=True)
    assert copied.returncode == 0, copied.stderr[-2000:]
    assert (docs_copy / "summary.md").read_text() == (report / "summary.md").read_text()
    assert _read_csv(docs_copy / "budget.csv") == _read_csv(report / "budget.csv")
    leaders = (docs_copy / "leaders.md").read_text().split("\n\n", 1)[1]
    assert leaders.strip() in (report / "summary.md").read_text()
    for png in report.glob("*.png"):
        with Image.open(docs_copy / png.name) as small, Image.open(png) as full:
            assert small.mode == "P" and small.size == full.size

    # a re-run finds everything done: no trial, no run repeated
    stamps = {p: p.stat().st_mtime_ns for p in runs}
    again = benchmark(*QUICK, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in runs} == stamps
    for optimizer in ("sgd", "adam"):
        study = optuna.load_study(study_name=f"fast/quadratic/{optimizer}", storage=storage)
        assert len(study.get_trials(deepcopy=False)) == 3
    assert _read_csv(report / "budget.csv") == rows
    other = benchmark(*QUICK[:-2], "benchmark.budget=4", cwd=tmp_path)
    assert other.returncode == 2 and "with budget=3, not 4: give another out_dir" in other.stderr

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    spec = subprocess.run(
        [sys.executable, "-m", "research.leaderboard", str(out), "--out", str(tmp_path / "r"),
         "--wandb-entity", "me", "--wandb-project", "bench"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert spec.returncode == 0, spec.stderr[-3000:]
    assert "Which optimizer leads" in (tmp_path / "r" / "wandb_report.json").read_text()


def _complete_trials(storage: str) -> dict[tuple[str, int], float]:
    done = {}
    for summary in optuna.get_all_study_summaries(storage=storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            done[summary.study_name, trial.number] = trial.value
    return done


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the fast tier twice over; a busy 2-core machine takes 10+ minutes
def test_a_killed_benchmark_resumes_without_repeating_finished_trials(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "research.benchmark", "benchmark=fast", "report=false"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    storage = f"sqlite:///{tmp_path / 'benchmarks' / 'fast' / 'optuna.db'}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(2)
        if (tmp_path / "benchmarks" / "fast" / "optuna.db").exists() and len(
            _complete_trials(storage)
        ) >= 6:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = _complete_trials(storage)
    assert 6 <= len(before) < 16, "the kill came too late to test a resume"

    result = benchmark("benchmark=fast", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    after = _complete_trials(storage)
    assert all(after[key] == value for key, value in before.items())
    for summary in optuna.get_all_study_summaries(storage=storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        counted = [
            t for t in study.get_trials(deepcopy=False)
            if t.state != TrialState.FAIL or t.user_attrs.get("fail_kind") in ("error", "diverged")
        ]  # fmt: skip
        assert len(counted) == 4, summary.study_name
    assert len(list((tmp_path / "benchmarks/fast/runs").glob("*/*/*/*/results.json"))) == 24
    assert (tmp_path / "benchmarks/fast/report/budget.csv").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_benchmark_says_one_line_and_leaves_no_trial_running(
    tmp_path: Path, signum: int
) -> None:
    """Ctrl-C or SIGTERM to the benchmark process alone: its running sweep is stopped in turn
    and records its trial as interrupted (not counted), before the one line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "research.benchmark", "benchmark=fast", "report=false",
         "~benchmark.workloads.cnn_mnist1d"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=sigint_as_a_terminal_sends_it,
    )  # fmt: skip
    storage = f"sqlite:///{tmp_path / 'benchmarks' / 'fast' / 'optuna.db'}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(1)
        if (tmp_path / "benchmarks/fast/optuna.db").exists() and _complete_trials(storage):
            break
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    name = signal.Signals(signum).name
    assert process.returncode == 128 + signum, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert stderr.strip().splitlines()[-1].startswith(f"interrupted by {name}: the running "), (
        stderr[-3000:]
    )
    for summary in optuna.get_all_study_summaries(storage=storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        states = [t.state for t in study.get_trials(deepcopy=False)]
        assert TrialState.RUNNING not in states, summary.study_name


@pytest.mark.slow
def test_an_adaptive_sampler_gets_repeated_studies_and_best_so_far_curves(tmp_path: Path) -> None:
    result = benchmark(
        "benchmark=fast", "~benchmark.workloads.cnn_mnist1d", "~benchmark.optimizers.adam",
        "benchmark.seeds=[0]", "benchmark.budget=2", "benchmark.sampler=tpe",
        "benchmark.repeats=2", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "benchmarks" / "fast"
    storage = f"sqlite:///{out / 'optuna.db'}"
    bests = []
    for repeat in (0, 1):
        study = optuna.load_study(study_name=f"fast/quadratic/sgd/rep{repeat}", storage=storage)
        values = [min(t.value, 220.0) if t.value is not None else 220.0 for t in study.trials]
        bests.append(np.minimum.accumulate(values))
    rows = _read_csv(out / "report" / "budget.csv")
    assert [float(r["expected_best"]) for r in rows] == pytest.approx(np.mean(bests, axis=0))


@pytest.mark.slow
def test_studies_run_in_parallel_through_the_joblib_launcher(tmp_path: Path) -> None:
    result = benchmark(
        "benchmark=fast", "~benchmark.workloads.cnn_mnist1d", "~benchmark.optimizers.adam",
        "benchmark.budget=4", "benchmark.seeds=[0]", "report=false",
        'sweep_overrides=["hydra/launcher=joblib","hydra.launcher.n_jobs=2"]', cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "benchmarks" / "fast" / "tuning" / "quadratic" / "sgd"
    assert "joblib" in (folder / "sweep.log").read_text().lower()
    assert sorted(p.name for p in folder.glob("trial_*")) == [f"trial_{n}" for n in range(4)]


def _finished_trial(start: datetime, seconds: float) -> optuna.trial.FrozenTrial:
    return optuna.trial.FrozenTrial(
        number=0, state=TrialState.COMPLETE, value=1.0, datetime_start=start,
        datetime_complete=start + timedelta(seconds=seconds), params={}, distributions={},
        user_attrs={}, system_attrs={}, intermediate_values={}, trial_id=0,
    )  # fmt: skip


def test_progress_of_a_resumed_benchmark_weighs_what_is_left_by_its_cost(tmp_path: Path) -> None:
    """Resumed with one CNN final run (2 minutes) and four quadratic ones (2 s) to go: once the
    CNN run is done, 8 s are left, not 4 x 2 minutes (the time per unit this process saw)."""
    from research.benchmark.progress import progress_line, reporting
    from research.benchmark.spec import Benchmark, Optimizer
    from research.benchmark.studies import progress_counts
    from research.config.benchmark_files import Workload

    workloads = tuple(
        Workload(name, "val/loss", "test/loss", False, 1.0, None) for name in ("cnn", "quad")
    )
    bench = Benchmark(
        "b", tmp_path, f"sqlite:///{tmp_path / 'optuna.db'}", 2, (0, 1), "random", 0, 1, "none",
        (), (), workloads, (Optimizer("sgd", "sgd_lr", {}),),
    )  # fmt: skip
    storage = optuna.storages.RDBStorage(bench.storage)
    began = datetime(2026, 12, 1)
    for workload, seconds in zip(workloads, (120.0, 2.0), strict=True):
        study = optuna.create_study(
            study_name=bench.study_name(workload, bench.optimizers[0]), storage=storage
        )
        for _ in range(bench.budget):
            study.add_trial(_finished_trial(began, seconds))

    def finish_run(workload: str, variant: str, seed: int) -> None:
        folder = tmp_path / "runs" / workload / "sgd" / variant / f"seed_{seed}"
        folder.mkdir(parents=True)
        (folder / "results.json").write_text('{"status": "completed"}')

    for variant, seed in (("tuned", 0), ("tuned", 1), ("default", 0)):
        finish_run("cnn", variant, seed)
    start = progress_counts(bench, storage)
    finish_run("cnn", "default", 1)  # 2 minutes later
    line = progress_line(progress_counts(bench, storage), start, elapsed_s=120.0)
    assert line == "progress: trials 4/4, runs 4/8 (8/12 done), about 0m08s left"
    lines: list[str] = []
    with reporting(lambda: progress_counts(bench, storage), 3600, lines.append):
        pass
    assert lines == ["progress: trials 4/4, runs 4/8 (8/12 done), time left: estimating"] * 2
