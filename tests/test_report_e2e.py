"""Reports built from real runs of `python -m research.train -m`, checked against the runs'
own results.json: every number in summary.csv is recomputed here by hand."""

from __future__ import annotations

import csv
import html as htmllib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from research.report.__main__ import main
from research.report.build import Options, compare

TARGET = 0.9
SWEEP = [
    "data=digits",
    "model=logreg",
    "optimizer=torch_adam",
    "trainer.max_epochs=2",
    "optimizer._target_=torch.optim.Adam,torch.optim.AdamW",
    "optimizer.weight_decay=0.05",
    "optimizer.lr=0.01,1e37",
    "seed=0,1",
    "logger=csv",  # the default callbacks: a killed run's config.yaml has `${hydra:...}` paths
]


def offline_env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.update(
        {
            k: str(tmp / "wandb-home")
            for k in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR")
        }
    )
    env.pop("WANDB_API_KEY", None)
    return env


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 real runs (Adam and AdamW, lr 0.01 and 1e37 that diverges, 2 seeds) and a copy of
    one of them with its results.json removed, as a run killed mid-way leaves it."""
    root = tmp_path_factory.mktemp("report_runs")
    sweep = root / "multirun" / "sweep"
    done = subprocess.run(
        [sys.executable, "-m", "research.train", "-m", *SWEEP, f"hydra.sweep.dir={sweep}"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env=offline_env(root),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shutil.copytree(sweep / "0", root / "killed" / "0")
    (root / "killed" / "0" / "results.json").unlink()
    return root


def results(sweep: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def report(runs_dir: Path) -> Path:
    out = runs_dir / "report"
    code = main(
        [
            str(runs_dir / "multirun"),
            str(runs_dir / "killed"),
            "--pool",  # the killed copy is no part of the sweep: report them as one
            "--out",
            str(out),
            "--target",
            str(TARGET),
            "--wandb-entity",
            "me",
            "--wandb-project",
            "opt",
        ]
    )
    assert code == 0
    return out


def by_hand(sweep: Path) -> dict[tuple[str, float], list[dict[str, Any]]]:
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in results(sweep):
        opt = r["config"]["optimizer"]
        groups.setdefault((opt["_target_"], opt["lr"]), []).append(r)
    return groups


def first_step(r: dict[str, Any], target: float) -> float | None:
    return next((h["step"] for h in r["history"] if h["val/acc"] >= target), None)


def test_summary_csv_matches_the_runs(runs_dir: Path, report: Path) -> None:
    rows = {
        (r["optimizer._target_"], float(r["optimizer.lr"])): r
        for r in read_csv(report / "summary.csv")
    }
    groups = by_hand(runs_dir / "multirun" / "sweep")
    assert set(rows) == set(groups)
    means = {}
    for key, runs in groups.items():
        row = rows[key]
        completed = [r for r in runs if r["status"] == "completed"]
        killed = 1 if key == ("torch.optim.Adam", 0.01) else 0
        assert int(row["n_runs"]) == len(runs) + killed
        assert int(row["unfinished"]) == killed
        assert int(row["diverged"]) == sum(r["status"] == "diverged" for r in runs)
        assert int(row["n_seeds"]) == len(completed)
        if key[1] == 1e37:
            assert row["diverged"] == "2" and row["final_mean"] == "" and row["rank"] == ""
            continue
        final = [r["final"]["val/acc"] for r in completed]
        best = [r["best"]["val/acc"] for r in completed]
        means[key] = statistics.fmean(final)
        assert float(row["final_mean"]) == pytest.approx(statistics.fmean(final), abs=1e-12)
        assert float(row["final_std"]) == pytest.approx(statistics.stdev(final), abs=1e-12)
        assert float(row["best_mean"]) == pytest.approx(statistics.fmean(best), abs=1e-12)
        # Two seeds: the 95% bootstrap interval is exactly [min, max] (see the stats tests).
        assert float(row["final_ci95_low"]) == pytest.approx(min(final))
        assert float(row["final_ci95_high"]) == pytest.approx(max(final))
        steps = [first_step(r, TARGET) for r in completed]
        assert int(row["seeds_reached_target"]) == sum(s is not None for s in steps)
        if all(s is not None for s in steps):
            assert float(row["median_steps_to_target"]) == statistics.median(steps)
    top = max(means.values())
    winners = [k for k, m in means.items() if m == top]
    for key, row in rows.items():
        assert (row["is_best"] == "True") == (winners == [key])


def test_lead_is_tested_with_welch_against_the_runner_up(runs_dir: Path, report: Path) -> None:
    rows = read_csv(report / "summary.csv")
    ranked = sorted((r for r in rows if r["final_mean"]), key=lambda r: -float(r["final_mean"]))
    best, runner_up = ranked[0], ranked[1]
    if best["final_mean"] == runner_up["final_mean"]:
        pytest.skip("the two optimizers tied on these runs: no lead to test")
    groups = by_hand(runs_dir / "multirun" / "sweep")

    def finals(row: dict[str, str]) -> list[float]:
        runs = groups[(row["optimizer._target_"], float(row["optimizer.lr"]))]
        return [r["final"]["val/acc"] for r in runs if r["status"] == "completed"]

    expected = scipy_stats.ttest_ind(finals(best), finals(runner_up), equal_var=False)
    assert best["runner_up"] == runner_up["group"]
    assert float(best["lead"]) == pytest.approx(
        float(best["final_mean"]) - float(runner_up["final_mean"])
    )
    if np.isfinite(expected.pvalue):
        assert float(best["p_value"]) == pytest.approx(expected.pvalue)
        assert best["significant"] == str(expected.pvalue < 0.05)


def test_every_run_is_listed_with_its_status(report: Path) -> None:
    rows = read_csv(report / "runs.csv")
    statuses = sorted(r["status"] for r in rows)
    assert statuses == ["completed"] * 4 + ["diverged"] * 4 + ["unfinished"]
    unfinished = next(r for r in rows if r["status"] == "unfinished")
    assert unfinished["group"].startswith("Adam (lr=0.01") and unfinished["seed"] == "0"


def test_files_and_paper_tables(report: Path) -> None:
    for name in ("learning_curves", "final", "lr_sensitivity"):
        assert (report / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (report / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    md = (report / "summary.md").read_text()
    assert "| group | seeds | final validation accuracy |" in md
    assert "2 diverged" in md and "Welch" in md
    tex = (report / "summary.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\bottomrule" in tex and "_" not in tex.replace(r"\_", "")


def test_html_is_self_contained(runs_dir: Path, report: Path) -> None:
    page = (report / "report.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    images = page.count("<img ")
    assert images == len(list(report.glob("*.png"))) and images == page.count(
        "data:image/png;base64,"
    )
    assert "python -m research.train -m" in page and "optimizer.lr=0.01,1e37" in page
    assert f"hydra.sweep.dir={runs_dir / 'multirun' / 'sweep'}" in page, "as typed"
    assert "1 unfinished" in page and "4 diverged" in page
    assert "Welch" in page and "bootstrap" in page


def test_wandb_report_reads_back(report: Path) -> None:
    import wandb_workspaces.reports.v2 as wr

    from research.report.wandb_spec import read_report

    spec = read_report(report / "wandb_report.json")
    assert (spec.entity, spec.project) == ("me", "opt")
    grids = [b for b in spec.blocks if isinstance(b, wr.PanelGrid)]
    panels = [p for g in grids for p in g.panels]
    lines = [p for p in panels if isinstance(p, wr.LinePlot)]
    assert {m.name for p in lines for m in p.y} == {"train/loss", "val/acc"}
    (parallel,) = [p for p in panels if isinstance(p, wr.ParallelCoordinatesPlot)]
    names = [c.metric.name for c in parallel.columns]
    assert names == ["optimizer.lr", "val/acc"]
    runset = grids[0].runsets[0]
    assert (runset.entity, runset.project) == ("me", "opt")
    assert runset.groupby == ["config.optimizer.value._target_", "config.optimizer.value.lr"]
    assert any(isinstance(b, wr.MarkdownBlock) and "| group |" in b.text for b in spec.blocks)


def test_publish_offline_fails_fast(report: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from research.report.wandb_spec import PublishError, publish

    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(PublishError, match="unreachable"):
        publish(report / "wandb_report.json", timeout_s=5)


BROWSER = [
    "chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Appended to a copy of the page: after the page has loaded, it writes what the browser
# shows into the DOM that --dump-dom prints. The report itself has no scripts.
PROBE = """<script>
window.addEventListener("load", () => {
  const seen = {
    images: [...document.images].map(i => ({alt: i.alt, loaded: i.complete,
      width: i.naturalWidth, height: i.naturalHeight, shown: i.getBoundingClientRect().width})),
    tables: [...document.querySelectorAll("table")].map(t => ({
      rows: t.tBodies[0].rows.length,
      empty: [...t.tBodies[0].querySelectorAll("td")].filter(c => !c.textContent.trim()).length})),
    headings: [...document.querySelectorAll("h1, h2, h3")].map(h => h.textContent),
  };
  const out = document.createElement("pre");
  out.id = "seen";
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
});
</script>"""


def seen_in_browser(page: Path, work: Path) -> dict[str, Any]:
    """What headless chromium shows of a report page: its images (loaded, their natural and
    shown size), its tables (rows, empty cells) and headings. Images must be decoded with a
    non-zero size and tables must have rows, or the reader sees nothing."""
    if not shutil.which("chromium"):
        if os.environ.get("REPORT_BROWSER_REQUIRED"):
            pytest.fail("chromium is missing: apt-get install -y chromium")
        pytest.skip("chromium is not installed (apt-get install -y chromium; CI installs it)")
    work.mkdir(parents=True, exist_ok=True)
    probed = work / f"probed-{page.parent.name}-{page.name}"
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    profile = tempfile.mkdtemp(dir=work, prefix="chromium-profile-")
    done = subprocess.run(
        [
            *BROWSER,
            f"--user-data-dir={profile}",
            "--window-size=1280,2000",
            "--virtual-time-budget=20000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r'<pre id="seen">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the page did not finish loading: {done.stderr[-1500:]}"
    seen = json.loads(htmllib.unescape(match.group(1)))
    for image in seen["images"]:
        assert image["loaded"] and image["width"] > 0 and image["height"] > 0, image
        assert image["shown"] > 300, image  # drawn at a readable width
    for table in seen["tables"]:
        assert table["rows"] > 0, seen["tables"]
    return seen


def test_html_renders_in_a_browser(report: Path, tmp_path: Path) -> None:
    seen = seen_in_browser(report / "report.html", tmp_path)
    assert [i["alt"] for i in seen["images"]] == [
        "Learning curves",
        "Final validation accuracy",
        "Learning-rate sensitivity",
    ]
    assert len(seen["images"]) == len(list(report.glob("*.png")))
    results, apart, runs = seen["tables"][:3]
    assert results["rows"] == 2 and results["empty"] == 0  # the two groups that completed
    assert apart["rows"] == 2  # the two diverged groups, listed apart
    assert runs["rows"] == 9  # every run, the killed one included
    assert "Without a completed run: 2 groups (runs: 4 diverged)" in seen["headings"]


def test_optuna_study_gives_the_same_numbers(runs_dir: Path, report: Path) -> None:
    import optuna

    storage = f"sqlite:///{runs_dir / 'optuna.db'}"
    study = optuna.create_study(study_name="adam_lr", storage=storage, direction="maximize")
    space = {"optimizer.lr": optuna.distributions.FloatDistribution(1e-5, 1e38, log=True)}
    for r in results(runs_dir / "multirun" / "sweep"):
        ok = r["status"] == "completed"
        study.add_trial(
            optuna.trial.create_trial(
                params={"optimizer.lr": r["config"]["optimizer"]["lr"]},
                distributions=space,
                value=r["final"]["val/acc"] if ok else None,
                state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL,
                user_attrs={"output_dir": r["output_dir"]},
            )
        )
    study.add_trial(
        optuna.trial.create_trial(
            params={"optimizer.lr": 0.5}, distributions=space, state=optuna.trial.TrialState.FAIL
        )
    )
    killed = runs_dir / "killed" / "0"  # killed before it wrote results: .hydra/ and metrics.csv
    study.add_trial(
        optuna.trial.create_trial(
            params={"optimizer.lr": 0.01},
            distributions=space,
            state=optuna.trial.TrialState.FAIL,
            user_attrs={"output_dir": str(killed)},
        )
    )
    runs, analysis = compare(
        Options(inputs=[], out=runs_dir, studies=[_study(storage)], target=TARGET)
    )
    assert len(runs) == 10
    assert sorted(r.status for r in runs).count("failed") == 1
    assert len(analysis.tasks) == 1, "the killed trial joins its study's task"
    adam = next(g for g in analysis.tasks[0].groups if g.label.startswith("Adam (lr=0.01"))
    assert adam.status_counts == {"completed": 2, "unfinished": 1}
    via_study = {g.label: g.final for t in analysis.tasks for g in t.groups}
    via_folders = {r["group"]: r for r in read_csv(report / "summary.csv")}
    for label, row in via_folders.items():
        if row["final_mean"]:
            assert via_study[label].mean == pytest.approx(float(row["final_mean"]))
            assert via_study[label].n == int(row["n_seeds"])


def _study(storage: str) -> Any:
    from research.report.discover import Study

    return Study(storage, "adam_lr")


def test_bad_input_is_one_line_and_exit_code_2(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(runs_dir / "multirun"), "--metric", "val/f1", "--out", str(tmp_path)]) == 2
    assert (
        main(["--study", f"sqlite:///{runs_dir / 'optuna.db'}", "nope", "--out", str(tmp_path)])
        == 2
    )
    errors = capsys.readouterr().err.strip().splitlines()
    sweep = runs_dir / "multirun" / "sweep"
    assert errors[0].startswith(f"error: {sweep}: unknown metric 'val/f1': these runs log ")
    assert "val/acc" in errors[0]
    assert errors[1].startswith("error: no study 'nope'") or "does not exist" in errors[1]
    (tmp_path / "empty").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "research.report", str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no runs found under" in done.stderr


def test_lower_is_better_metric(runs_dir: Path) -> None:
    _, analysis = compare(Options(inputs=[runs_dir / "multirun"], out=runs_dir, metric="val/loss"))
    groups = by_hand(runs_dir / "multirun" / "sweep")
    means = {
        k: statistics.fmean(r["final"]["val/loss"] for r in runs if r["status"] == "completed")
        for k, runs in groups.items()
        if k[1] == 0.01
    }
    best = analysis.tasks[0].best
    assert best is not None and best.final.mean == pytest.approx(min(means.values()))


def damaged_copies(source: Path, sweep: Path, first_job: int) -> dict[Path, str]:
    """Copies of a real finished run as extra jobs of `sweep`, each with one file damaged the
    way disks, editors and scripts damage them; for each, the reason the report must give
    (up to its first '(')."""
    results = json.loads((source / "results.json").read_text())
    text = json.dumps(results)
    as_text = json.loads(text)
    as_text["final"]["val/acc"] = str(results["final"]["val/acc"])
    config = (source / ".hydra" / "config.yaml").read_text()
    damage = [
        ("results.json", json.dumps([results]), "results.json: expected an object, got a list"),
        ("results.json", text[: len(text) // 2], "results.json: not valid JSON ("),
        (
            "results.json",
            json.dumps(as_text),
            f"results.json: final['val/acc'] is \"{as_text['final']['val/acc']}\", "
            "expected a number or null",
        ),
        ("metrics.csv", bytes(range(256)) * 64, "metrics.csv: not UTF-8 text"),
        (
            ".hydra/config.yaml",
            config.replace("optimizer:", "optimizer: [", 1),
            ".hydra/config.yaml: not valid YAML (",
        ),
    ]
    expected = {}
    for job, (name, content, reason) in enumerate(damage, first_job):
        copy = sweep / str(job)
        shutil.copytree(source, copy)
        data = content if isinstance(content, bytes) else content.encode()
        (copy / name).write_bytes(data)
        expected[copy] = reason
    return expected


def interrupted_copy(source: Path, folder: Path) -> Path:
    """What a run killed before its first log leaves: only Hydra's .hydra/ folder."""
    shutil.copytree(source / ".hydra", folder / ".hydra")
    return folder


def test_damaged_runs_are_listed_unreadable_and_the_rest_is_reported(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = runs_dir / "multirun" / "sweep"
    clean = tmp_path / "clean"
    assert main([str(sweep), "--out", str(clean), "--target", str(TARGET)]) == 0
    damaged = tmp_path / "multirun" / "damaged"
    shutil.copytree(sweep, damaged)
    reasons = damaged_copies(damaged / "0", damaged, first_job=8)
    killed = interrupted_copy(damaged / "0", damaged / "13")
    started = tmp_path / "multirun" / "started"
    interrupted_copy(damaged / "0", started / "0")
    shutil.copy(sweep / "multirun.yaml", started)
    capsys.readouterr()

    out = tmp_path / "report"
    assert main([str(tmp_path / "multirun"), "--out", str(out), "--target", str(TARGET)]) == 0
    printed = capsys.readouterr()
    assert printed.err.splitlines() == [
        f"warning: {started}: not reported: no finished run yet: 1 unfinished"
    ]
    assert "1 not reported" in printed.out
    runs = {Path(r["path"]): r for r in read_csv(out / "damaged" / "runs.csv")}
    for folder, reason in reasons.items():
        assert runs[folder]["status"] == "unreadable"
        assert runs[folder]["reason"].startswith(reason), runs[folder]["reason"]
        assert runs[folder]["group"].startswith("Adam (lr=0.01"), "in the group it belongs to"
        assert runs[folder]["final"] == ""
    assert runs[killed]["status"] == "unfinished"
    # The good runs' numbers are those of the report built before the damage.
    before = {r["group"]: r for r in read_csv(clean / "summary.csv")}
    after = {r["group"]: r for r in read_csv(out / "damaged" / "summary.csv")}
    assert set(after) == set(before)
    for group, row in after.items():
        counts = {"n_runs", "unfinished", "unreadable"}
        assert {k: v for k, v in row.items() if k not in counts} == {
            k: v for k, v in before[group].items() if k not in counts
        }
    adam = after[next(g for g in after if g.startswith("Adam (lr=0.01"))]
    assert (adam["unreadable"], adam["unfinished"], adam["n_runs"]) == ("5", "1", "8")
    page = (out / "damaged" / "report.html").read_text()
    assert "5 unreadable" in page and "results.json: expected an object, got a list" in page
    index = (out / "report.html").read_text()
    assert '<a href="damaged/report.html">' in index and not (out / "started").exists()
    assert "Not reported: no finished run yet: 1 unfinished." in index
    seen = seen_in_browser(out / "report.html", tmp_path / "browser")
    assert seen["headings"][1:] == [str(damaged), str(started)]


def test_nothing_to_report_is_exit_2_naming_the_folder(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = runs_dir / "multirun" / "sweep" / "0"
    started = interrupted_copy(source, tmp_path / "started" / "0").parent
    unreadable = tmp_path / "unreadable"
    damaged_copies(source, unreadable, first_job=0)
    out = tmp_path / "out"
    assert main([str(started), "--out", str(out)]) == 2
    assert main([str(unreadable), "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: single runs in {started / '0'}: no finished run yet: 1 unfinished",
        f"error: single runs in {unreadable}: no readable finished run: 5 unreadable",
    ]
    assert not out.exists()
