"""What a reader of a report sees: one colour per optimizer in every figure, a sensitivity plot
only where the learning rate varied, one report per sweep, groups without a completed run
apart from the results, sampled betas as a scatter, no silent cap on curves, and step-level
curves where a run logged them. Built from run folders written in the on-disk format of
`python -m research.train` (results.json, metrics.csv, multirun.yaml)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.colors import to_rgb, to_rgba_array

from research.report.__main__ import main
from research.report.build import Options, compare
from research.report.figures.colors import HUES, NEUTRAL, palette, report_palette
from tests.test_report_e2e import offline_env, seen_in_browser

ADAM, SGD, AMSGRAD = "torch.optim.Adam", "torch.optim.SGD", "research.optim.optimizers.AMSGrad"


def write_run(
    folder: Path,
    target: str,
    lr: float,
    seed: int = 0,
    acc: float | None = 0.8,
    status: str = "completed",
    betas: tuple[float, float] | None = None,
    data: str = "research.data.digits.DigitsDataModule",
) -> None:
    """A finished run as research.train leaves it: results.json with a two-epoch history and
    a metrics.csv with the training loss every 10 steps."""
    optimizer: dict[str, Any] = {"_target_": target, "lr": lr}
    if betas:
        optimizer |= {"beta1": betas[0], "beta2": betas[1]}
    config = {
        "seed": seed,
        "data": {"_target_": data, "batch_size": 32},
        "model": {"_target_": "research.models.mlp.MLP", "width": 32},
        "optimizer": optimizer,
        "trainer": {"max_epochs": 2},
        "paths": {"output_dir": str(folder)},
    }
    done = status == "completed"
    value = acc if done and acc is not None else None
    history = [
        {"epoch": 0.0, "step": 50.0, "val/acc": (value or 0.1) / 2, "train/loss_epoch": 1.0},
        {"epoch": 1.0, "step": 100.0, "val/acc": value or 0.1, "train/loss_epoch": 0.5},
    ]
    results = {
        "status": status,
        "reason": None if done else f"{status} by the test",
        "final": {"val/acc": value, "train/loss_epoch": 0.5},
        "best": {"val/acc": value, "train/loss_epoch": 0.5},
        "global_step": 100 if done else 50,
        "seed": seed,
        "output_dir": str(folder),
        "history": history if done else history[:1],
        "config": config,
    }
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    rows = [f"{s // 50},{s - 1},{2.0 / s}" for s in range(10, 101 if done else 51, 10)]
    (folder / "metrics.csv").write_text("epoch,step,train/loss\n" + "\n".join(rows) + "\n")


def write_sweep(folder: Path, runs: list[dict[str, Any]]) -> Path:
    for job, kwargs in enumerate(runs):
        write_run(folder / str(job), **kwargs)
    (folder / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task: [optimizer=adam,sgd]\n  runtime:\n    cwd: /w\n"
    )
    return folder


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def colours_drawn(fig: Any) -> dict[str, tuple[float, ...]]:
    """Legend label -> the colour of its line or marker."""
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    found = {}
    for legend in legends:
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
            color = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
            found[text.get_text()] = tuple(float(c) for c in to_rgba_array(color)[0][:3])
    return found


def grid_sweep(root: Path) -> Path:
    """Adam at three learning rates, SGD at two, two seeds each."""
    runs = [
        {"target": t, "lr": lr, "seed": s, "acc": 0.5 + lr + s / 100}
        for t, lrs in ((ADAM, (1e-3, 1e-2, 1e-1)), (SGD, (1e-2, 1e-1)))
        for lr in lrs
        for s in (0, 1)
    ]
    return write_sweep(root / "multirun" / "2026-11-30" / "10-00-00", runs)


def test_palette_is_colour_blind_safe_with_shades_per_optimizer() -> None:
    colors = palette(
        ["Adam (lr=1)", "Adam (lr=2)", "SGD"],
        {"Adam (lr=1)": "Adam", "SGD": "SGD", "Adam (lr=2)": "Adam"},
    )
    assert colors["Adam"] == to_rgb(HUES[0]) and colors["SGD"] == to_rgb(HUES[1])
    assert colors["SGD"] != colors["Adam"]
    dark, light = np.mean(colors["Adam (lr=1)"]), np.mean(colors["Adam (lr=2)"])
    assert dark < np.mean(colors["Adam"]) < light  # shades of one hue, dark to light
    one = palette(["Adam (lr=1)", "Adam (lr=2)"], {"Adam (lr=1)": "Adam", "Adam (lr=2)": "Adam"})
    assert one["Adam (lr=1)"] != one["Adam (lr=2)"] and one["Adam"] == NEUTRAL


def test_one_colour_per_group_in_every_figure(tmp_path: Path) -> None:
    from research.report.figures.curves import learning_curves, legend_label
    from research.report.figures.search import lr_sensitivity

    grid_sweep(tmp_path)
    _, analysis = compare(Options([tmp_path / "multirun"], tmp_path / "out"))
    colors = report_palette(analysis)
    (task,) = analysis.tasks
    keys = analysis.grouping.group_keys
    curves = colours_drawn(learning_curves(task, colors, None))
    sensitivity = lr_sensitivity(task, "val/acc", keys, "optimizer.lr", colors)
    lines = colours_drawn(sensitivity)
    assert lines["Adam"] == colors["Adam"] == to_rgb(HUES[0])
    assert lines["SGD"] == colors["SGD"] == to_rgb(HUES[1])
    points = {
        tuple(np.round(c[:3], 6))
        for ax in sensitivity.axes
        for coll in ax.collections
        for c in coll.get_facecolors()
    }
    for g in task.groups:
        assert curves[legend_label(g)] == pytest.approx(colors[g.label])
        assert tuple(np.round(colors[g.label], 6)) in points
    assert len({colors[g.label] for g in task.groups}) == len(task.groups)
    again = report_palette(compare(Options([tmp_path / "multirun"], tmp_path / "o2"))[1])
    assert again == colors  # the same runs, the same colours


def test_nine_learning_rates_of_one_optimizer_each_match_one_legend_entry(
    tmp_path: Path,
) -> None:
    """Nine shades of one hue cannot be told apart: at most three shades, then markers."""
    from research.report.figures.curves import learning_curves

    ladder = [{"target": ADAM, "lr": 10.0 ** (-i / 2), "acc": 0.9 - i / 100} for i in range(9)]
    write_sweep(tmp_path / "s", [*ladder, {"target": SGD, "lr": 0.1, "acc": 0.5}])
    _, analysis = compare(Options([tmp_path / "s"], tmp_path / "out"))
    fig = learning_curves(analysis.tasks[0], report_palette(analysis), None)
    entries = [
        (to_rgb(h.get_color()), h.get_marker())
        for h in fig.legends[0].legend_handles
        if h.get_label().startswith(("Adam", "SGD"))
    ]
    assert len(entries) == 10
    for i, (color, marker) in enumerate(entries):
        for other, other_marker in entries[i + 1 :]:
            if marker == other_marker:  # the same line style: the colours must differ clearly
                assert np.linalg.norm(np.subtract(color, other)) > 0.2, (color, other)
    for ax in fig.axes:  # a short curve's points are dots: no group's marker is a dot
        lines = {(to_rgb(line.get_color()), line.get_marker()) for line in ax.get_lines()}
        assert len(lines) == len(entries), "each group's line differs from the others"


def test_an_exploding_run_is_clipped_and_its_panel_says_so(tmp_path: Path) -> None:
    """A diverged run's loss reaches 2e16: the others' 0.02 to 0.2 still fill the panel."""
    from research.report.figures.curves import learning_curves

    runs = [{"target": ADAM, "lr": lr, "seed": s} for lr in (1e-3, 1e-2) for s in (0, 1)]
    sweep = write_sweep(tmp_path / "s", [*runs, {"target": ADAM, "lr": 10.0, "status": "diverged"}])
    losses = (2.0, 2e4, 2e8, 2e12, 2e16)
    rows = [f"0,{s - 1},{loss}" for s, loss in zip(range(10, 51, 10), losses, strict=True)]
    (sweep / "4" / "metrics.csv").write_text("epoch,step,train/loss\n" + "\n".join(rows) + "\n")
    _, analysis = compare(Options([sweep], tmp_path / "out"))
    fig = learning_curves(analysis.tasks[0], report_palette(analysis), None)
    by_step = fig.axes[0]
    assert by_step.get_xlabel() == "optimizer step" and by_step.get_ylim()[1] < 1
    note = by_step.get_title(loc="left")
    assert note.startswith("▲ clipped at 0.") and note.endswith(
        ": Adam (lr=10) seed 0 (diverged) up to 2e+16"
    )
    assert [ax.get_title(loc="left") for ax in fig.axes[1:]] == ["", "", ""], "none clipped"


def test_performance_profile_uses_the_groups_colours(tmp_path: Path) -> None:
    from research.report.figures.profile import performance_profile

    runs = [
        {"target": t, "lr": 0.01, "data": d, "acc": acc}
        for d in ("x.Digits", "x.MNIST1D")
        for t, acc in ((ADAM, 0.9), (SGD, 0.7), (AMSGRAD, 0.8))
    ]
    write_sweep(tmp_path / "tasks", runs)
    _, analysis = compare(Options([tmp_path / "tasks"], tmp_path, target=0.3))
    assert analysis.profile is not None and len(analysis.tasks) == 2
    colors = report_palette(analysis)
    drawn = colours_drawn(performance_profile(analysis.profile, colors))
    assert {label.split(" (score")[0]: c for label, c in drawn.items()} == {
        name: colors[name] for name in ("Adam", "SGD", "AMSGrad")
    }
    assert len(set(drawn.values())) == 3


def test_sensitivity_plot_only_where_the_learning_rate_varied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    defaults = [
        {"target": t, "lr": lr, "seed": s} for t, lr in ((ADAM, 1e-3), (SGD, 1e-2)) for s in (0, 1)
    ]
    write_sweep(tmp_path / "defaults", defaults)
    assert main([str(tmp_path / "defaults"), "--out", str(tmp_path / "a")]) == 0
    assert not (tmp_path / "a" / "lr_sensitivity.png").exists()
    ladder = [{"target": ADAM, "lr": lr} for lr in (1e-3, 1e-2)] + [{"target": SGD, "lr": 0.1}]
    write_sweep(tmp_path / "ladder", ladder)
    assert main([str(tmp_path / "ladder"), "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "lr_sensitivity.png").exists()
    from research.report.figures.search import sensitivity_families

    _, analysis = compare(Options([tmp_path / "ladder"], tmp_path / "b"))
    families, left_out, connect = sensitivity_families(
        analysis.tasks[0], analysis.grouping.group_keys, "optimizer.lr"
    )
    assert list(families) == ["Adam"] and left_out == ["SGD"] and connect


def test_sweeps_are_reported_apart_unless_pooled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = grid_sweep(tmp_path)
    second = write_sweep(
        tmp_path / "multirun" / "2026-11-30" / "11-00-00",
        [{"target": ADAM, "lr": 1e-3, "seed": s, "acc": 0.3} for s in (0, 1)],
    )
    out = tmp_path / "report"
    assert main([str(tmp_path / "multirun"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 sweeps, each reported apart (--pool merges them)" in printed
    for sweep, folder, n in (
        (first, "2026-11-30_10-00-00", 10),
        (second, "2026-11-30_11-00-00", 2),
    ):
        rows = read_csv(out / folder / "runs.csv")
        assert len(rows) == n and all(r["path"].startswith(str(sweep)) for r in rows)
    index = (out / "report.html").read_text()
    assert '<a href="2026-11-30_10-00-00/report.html">' in index
    assert '<a href="2026-11-30_11-00-00/report.html">' in index
    assert "--pool" in index
    pooled = tmp_path / "pooled"
    assert main([str(tmp_path / "multirun"), "--pool", "--out", str(pooled)]) == 0
    assert (
        len(read_csv(pooled / "runs.csv")) == 12 and not (pooled / "2026-11-30_10-00-00").exists()
    )


def test_groups_without_a_completed_run_are_listed_apart(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    runs = [
        {
            "target": ADAM,
            "lr": float(10 ** rng.uniform(-4, -2)),
            "betas": (float(rng.uniform(0.5, 0.99)), float(1 - 10 ** rng.uniform(-4, -1))),
            "acc": float(rng.uniform(0.5, 0.9)),
            "status": "completed" if job < 14 else "pruned",
        }
        for job in range(20)
    ]
    write_sweep(tmp_path / "search", runs)
    out = tmp_path / "out"
    assert main([str(tmp_path / "search"), "--out", str(out)]) == 0
    md = (out / "summary.md").read_text()
    table_rows = [
        line.split(" | ") for line in md.splitlines() if line.startswith("|") and "Adam (" in line
    ]
    assert len(table_rows) == 14 and all(row[1].strip("*") == "1" for row in table_rows)
    assert "6 groups have no completed run (runs: 6 pruned): see runs.csv." in md
    page = (out / "report.html").read_text()
    assert "Without a completed run: 6 groups (runs: 6 pruned)" in page
    assert (out / "beta_scatter.png").exists() and not (out / "beta_heatmap.png").exists()
    assert len(read_csv(out / "summary.csv")) == 20  # every group, for scripts


def test_beta_scatter_draws_every_sampled_point(tmp_path: Path) -> None:
    from research.report.figures.beta_scatter import beta_scatter

    runs = [
        {"target": ADAM, "lr": 1e-3, "betas": (0.5 + i / 40, 0.9 + i / 200), "acc": 0.5 + i / 50}
        for i in range(12)
    ] + [{"target": ADAM, "lr": 1e-3, "betas": (0.55, 0.95), "status": "pruned"}]
    write_sweep(tmp_path / "s", runs)
    _, analysis = compare(Options([tmp_path / "s"], tmp_path))
    fig = beta_scatter(analysis.tasks[0], "val/acc", analysis.grouping.group_keys, True)
    coloured, crosses, star = fig.axes[0].collections
    assert len(coloured.get_offsets()) == 12 and len(crosses.get_offsets()) == 1
    coloured.update_scalarmappable()  # as drawing does: the metric -> colours
    assert len(set(map(tuple, coloured.get_facecolors()))) == 12
    assert np.allclose(star.get_offsets()[0], [1 - 0.775, 1 - 0.955])  # the best: i = 11


def test_curves_say_how_many_groups_they_leave_out(tmp_path: Path) -> None:
    runs = [{"target": ADAM, "lr": 10.0 ** (-1 - i / 4), "acc": 0.5 + i / 100} for i in range(13)]
    write_sweep(tmp_path / "many", runs)
    out = tmp_path / "out"
    assert main([str(tmp_path / "many"), "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "best 10 of 13 groups drawn, 3 left out" in page


def test_step_curves_come_from_the_denser_per_step_log(tmp_path: Path) -> None:
    """A real run of the AMSGrad counterexample: its config validates every 202 steps, so the
    report draws x at every one of them, not once per epoch."""
    from research.report.analysis import curve_band

    run_dir = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "research.train",
            "experiment=amsgrad_counterexample",
            "data.steps_per_epoch=1010",
            "trainer.max_epochs=2",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**offline_env(tmp_path), "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    runs, _ = compare(Options([run_dir], tmp_path, metric="val/x"))
    steps = curve_band(runs, "val/x", "steps")
    epochs = curve_band(runs, "val/x", "epochs")
    assert steps is not None and epochs is not None
    np.testing.assert_array_equal(steps.x, np.arange(202, 2021, 202))
    np.testing.assert_array_equal(epochs.x, [1, 2])
    assert steps.mean[-1] == pytest.approx(runs[0].value("val/x"))


def test_sweep_index_and_reports_render_in_a_browser(tmp_path: Path) -> None:
    grid_sweep(tmp_path)
    write_sweep(
        tmp_path / "multirun" / "2026-11-30" / "11-00-00",
        [{"target": SGD, "lr": 0.1, "seed": s, "acc": 0.4 + s / 10} for s in (0, 1)]
        + [{"target": ADAM, "lr": 10.0, "status": "diverged"}],
    )
    out = tmp_path / "report"
    assert main([str(tmp_path / "multirun"), "--out", str(out)]) == 0
    index = seen_in_browser(out / "report.html", tmp_path / "browser")
    assert [i["alt"] for i in index["images"]] == ["Learning curves"] * 2
    assert index["headings"][:2] == [
        "Sweeps",
        str(tmp_path / "multirun" / "2026-11-30" / "10-00-00"),
    ]
    assert [t["rows"] for t in index["tables"]] == [1, 1]
    sub = seen_in_browser(out / "2026-11-30_11-00-00" / "report.html", tmp_path / "browser")
    assert {"Learning curves", "Final validation accuracy"} <= {i["alt"] for i in sub["images"]}
    assert "Without a completed run: 1 group (runs: 1 diverged)" in sub["headings"]
