"""Discovery, loading, grouping and tables of the report, on small hand-made inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from research.report.analysis import analyze
from research.report.discover import RunRef, discover, find_run_dirs
from research.report.errors import ReportError
from research.report.grouping import flatten, group_runs, run_settings
from research.report.load import Run, load_run, read_metrics_csv, wandb_run_ids
from research.report.tables import latex, markdown, methods_note, summary_rows, tex

HEADER = "epoch,step,test/acc,test/loss,train/loss,val/acc,val/loss\n"


def config(
    target: str = "torch.optim.Adam",
    lr: float = 1e-3,
    seed: int = 0,
    data: str = "research.data.digits.DigitsDataModule",
    out: str = "/o/0",
) -> dict[str, Any]:
    return {
        "seed": seed,
        "tags": [],
        "optimized_metric": "val/acc",
        "trial": None,
        "data": {"_target_": data, "batch_size": 32, "seed": seed},
        "model": {"_target_": "research.models.mlp.MLP", "_partial_": True, "width": 32},
        "optimizer": {"_target_": target, "_partial_": True, "lr": lr, "betas": [0.9, 0.999]},
        "trainer": {"max_epochs": 2, "default_root_dir": out},
        "logger": {"csv": {"save_dir": out}},
        "callbacks": {"ckpt": {"dirpath": f"{out}/checkpoints", "every_n_epochs": 1}},
        "paths": {"output_dir": out, "root_dir": "/o"},
    }


def run(
    cfg: dict[str, Any],
    final: float | None = 0.9,
    status: str = "completed",
    path: Path | None = Path("/o/0"),
    metric: str = "val/acc",
) -> Run:
    return Run(
        RunRef(path),
        status,
        None,
        cfg,
        cfg.get("seed"),
        {metric: final},
        {metric: final},
        {},
        {},
        frozenset({metric}),
    )


def test_flatten_nested_config() -> None:
    flat = flatten({"a": {"b": 1, "c": [0.9, 0.99], "d": {}}, "e": None})
    assert flat == {"a.b": 1, "a.c": (0.9, 0.99), "a.d": "{}", "e": None}


def test_bookkeeping_keys_are_not_settings() -> None:
    settings = run_settings(run(config(seed=3)))
    for key in (
        "seed",
        "data.seed",
        "paths.output_dir",
        "logger.csv.save_dir",
        "tags",
        "trainer.default_root_dir",
        "callbacks.ckpt.dirpath",
        "trial",
        "model._partial_",
        "optimized_metric",
    ):
        assert key not in settings, key
    assert settings["optimizer.lr"] == 1e-3
    assert settings["callbacks.ckpt.every_n_epochs"] == 1


def test_groups_by_optimizer_with_seeds_as_repetitions() -> None:
    runs = [run(config(lr=lr, seed=s, out=f"/o/{lr}/{s}")) for lr in (1e-3, 1e-2) for s in (0, 1)]
    grouping = group_runs(runs, ["optimizer"])
    assert grouping.group_keys == ["optimizer._target_", "optimizer.lr"]
    assert grouping.task_keys == []
    (task,) = grouping.tasks
    assert [g.label for g in task.groups] == ["Adam (lr=0.001)", "Adam (lr=0.01)"]
    assert [len(g.runs) for g in task.groups] == [2, 2]
    assert task.label == "DigitsDataModule / MLP"


def test_other_differing_keys_make_tasks() -> None:
    runs = [
        run(config(target=t, data=d, seed=s))
        for t in ("torch.optim.Adam", "torch.optim.SGD")
        for d in ("x.Digits", "x.MNIST1D")
        for s in (0, 1)
    ]
    grouping = group_runs(runs, ["optimizer"])
    assert grouping.task_keys == ["data._target_"]
    assert [t.label for t in grouping.tasks] == ["Digits / MLP", "MNIST1D / MLP"]
    assert all([g.label for g in t.groups] == ["Adam", "SGD"] for t in grouping.tasks)
    everything = group_runs(runs, ["all"])
    assert len(everything.tasks) == 1 and len(everything.tasks[0].groups) == 4


def test_unknown_group_by_names_what_is_allowed() -> None:
    with pytest.raises(ReportError, match=r"--group-by 'optimiser'.*optimizer"):
        group_runs([run(config())], ["optimiser"])


def test_trial_without_a_folder_joins_the_task_of_its_study() -> None:
    runs = [
        run(config(data="x.Digits")),
        run(config(data="x.MNIST1D", seed=1)),
        run({"optimizer": {"lr": 0.5}}, final=None, status="failed", path=None),
    ]
    grouping = group_runs(runs, ["optimizer"])
    assert len(grouping.tasks) == 2
    assert [len(t.groups) for t in grouping.tasks] == [2, 1]


def test_ties_mark_no_best_group_and_losses_are_minimised() -> None:
    runs = [run(config(lr=lr, seed=s), final=0.5) for lr in (1e-3, 1e-2) for s in (0, 1)]
    analysis = analyze(group_runs(runs, ["optimizer"]), "val/acc")
    assert analysis.tasks[0].best is None
    assert [g.rank for g in analysis.tasks[0].groups] == [1, 1]
    assert "Tie" in markdown(analysis)
    runs = [
        run(config(lr=lr, seed=s), final=lr * 10 + s * 1e-3) for lr in (1e-3, 1e-2) for s in (0, 1)
    ]
    analysis = analyze(group_runs(runs, ["optimizer"]), "val/acc", higher=False)
    assert analysis.tasks[0].best is not None
    assert analysis.tasks[0].best.label == "Adam (lr=0.001)"


def test_summary_rows_keep_failed_groups_with_zero_seeds() -> None:
    runs = [run(config(lr=1e-3, seed=s), final=0.8 + s / 10) for s in (0, 1)]
    runs += [run(config(lr=10.0, seed=s), final=None, status="diverged") for s in (0, 1)]
    rows = summary_rows(analyze(group_runs(runs, ["optimizer"]), "val/acc"))
    assert [r["group"] for r in rows] == ["Adam (lr=0.001)", "Adam (lr=10)"]
    assert rows[0]["final_mean"] == pytest.approx(0.85) and rows[0]["n_seeds"] == 2
    assert rows[1]["n_seeds"] == 0 and rows[1]["diverged"] == 2 and rows[1]["final_mean"] == ""


def test_latex_escapes_and_bold_best() -> None:
    assert tex("lr_max 5% & ±") == r"lr\_max 5\% \& $\pm$"
    runs = [run(config(lr=lr, seed=s), final=lr + s / 100) for lr in (0.1, 0.2) for s in (0, 1)]
    text = latex(analyze(group_runs(runs, ["optimizer"]), "val/acc"))
    assert r"\toprule" in text and r"\textbf{$\star$ Adam (lr=0.2)}" in text


def write_csv(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + body)


def test_metrics_csv_with_empty_cells_and_a_torn_last_line(tmp_path: Path) -> None:
    body = "0,9,,,2.0,,\n0,19,,,1.5,,\n0,40,,,,0.9,0.3\n1,49,,,nan,,\n3,123,0.93,0.2,,,\n1,5"
    write_csv(tmp_path / "metrics.csv", body)
    header, series = read_metrics_csv(tmp_path / "metrics.csv", ["train/loss", "val/acc"])
    assert header == HEADER.strip().split(",")
    np.testing.assert_array_equal(series["train/loss"].steps, [10, 20])  # nan is not a point
    np.testing.assert_array_equal(series["train/loss"].values, [2.0, 1.5])
    np.testing.assert_array_equal(series["val/acc"].steps, [41])  # steps completed
    np.testing.assert_array_equal(series["val/acc"].epochs, [1])
    assert "test/acc" not in series  # not asked for


def test_unfinished_run_is_read_from_its_hydra_config(tmp_path: Path) -> None:
    run_dir = tmp_path / "killed"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text(
        "seed: 3\ndata:\n  seed: ${seed}\noptimizer:\n  _target_: torch.optim.Adam\n  lr: 0.01\n"
        "paths:\n  output_dir: ${hydra:runtime.output_dir}\n"
    )
    write_csv(run_dir / "metrics.csv", "0,9,,,2.0,,\n0,40,,,,0.9,0.3\n")
    loaded = load_run(RunRef(run_dir), ["train/loss", "val/acc"])
    assert loaded.status == "unfinished" and loaded.seed == 3
    assert loaded.config["data"]["seed"] == 3 and loaded.partial_config
    assert loaded.config["paths"] == {}  # Hydra's own resolvers: unknown here, left out
    assert loaded.series("val/acc") is not None and loaded.value("val/acc") == 0.9


RESULTS = {
    "status": "completed",
    "final": {"val/acc": 0.9},
    "best": {"val/acc": 0.9},
    "history": [{"epoch": 0, "step": 50, "val/acc": 0.9}],
    "config": config(),
    "seed": 0,
}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("results.json", {**RESULTS, "status": None}, "results.json: status is null, expected"),
        ("results.json", {**RESULTS, "seed": 1.5}, "results.json: seed is 1.5, expected an int"),
        ("results.json", {**RESULTS, "config": []}, "results.json: config is a list, expected an"),
        (
            "results.json",
            {**RESULTS, "history": [{"epoch": 0, "step": "50"}]},
            "results.json: history[0]['step'] is \"50\", expected a number",
        ),
        ("results.json", {**RESULTS, "best": {"val/acc": True}}, "results.json: best['val/acc']"),
        ("metrics.csv", "\x00" * 4096, "metrics.csv: not text (holds NUL bytes)"),
        ("metrics.csv", "<html>not a log</html>\n", "metrics.csv: no step column in its header"),
        (".hydra/config.yaml", "- a list\n", ".hydra/config.yaml: expected a mapping, got a list"),
    ],
)
def test_a_file_that_cannot_be_read_makes_the_run_unreadable(
    tmp_path: Path, name: str, content: Any, reason: str
) -> None:
    """Each check of what research.train writes, one damaged field at a time; the other files
    are as a finished run leaves them."""
    (tmp_path / ".hydra").mkdir()
    (tmp_path / "results.json").write_text(json.dumps(RESULTS))
    write_csv(tmp_path / "metrics.csv", "0,9,,,2.0,,\n")
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content))
    loaded = load_run(RunRef(tmp_path), ["train/loss", "val/acc"])
    assert loaded.status == "unreadable" and loaded.reason is not None
    assert loaded.reason.startswith(reason), loaded.reason
    assert not loaded.metric_names and not loaded.final and not loaded.per_step


def test_wandb_ids_from_offline_run_folders(tmp_path: Path) -> None:
    for name in ("offline-run-20261121_120000-abc123", "run-20261121_130000-def456", "latest-run"):
        (tmp_path / "wandb" / name).mkdir(parents=True)
    assert wandb_run_ids(tmp_path) == ("abc123", "def456")


def test_discovery_finds_runs_at_any_depth_in_numeric_order(tmp_path: Path) -> None:
    for job in (0, 2, 10):
        (tmp_path / "sweep" / str(job)).mkdir(parents=True)
        (tmp_path / "sweep" / str(job) / "results.json").write_text(json.dumps({}))
    (tmp_path / "sweep" / "0" / "wandb" / "x").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    for trial in (10, 2):  # an Optuna sweep's trial folders
        (tmp_path / "optuna" / f"trial_{trial}").mkdir(parents=True)
        (tmp_path / "optuna" / f"trial_{trial}" / "results.json").write_text(json.dumps({}))
    found = find_run_dirs(tmp_path)
    assert [p.name for p in found] == ["trial_2", "trial_10", "0", "2", "10"]
    assert len(discover([tmp_path / "sweep", tmp_path / "sweep" / "2"])) == 3  # each once
    with pytest.raises(ReportError, match="no runs found under"):
        discover([tmp_path / "empty"])
    with pytest.raises(ReportError, match="is not a folder"):
        discover([tmp_path / "nowhere"])


def test_wandb_spec_filters_to_the_runs_and_survives_a_round_trip(tmp_path: Path) -> None:
    from research.report.wandb_spec import build_report, read_report, to_json

    runs = [run(config(lr=lr, seed=s), final=lr + s) for lr in (0.1, 0.2) for s in (0, 1)]
    for i, r in enumerate(runs):
        r.wandb_ids = (f"id{i}",)
    analysis = analyze(group_runs(runs, ["optimizer"]), "val/acc")
    spec = build_report(analysis, "me", "opt", "T", markdown(analysis))
    (tmp_path / "r.json").write_text(to_json(spec))
    back = read_report(tmp_path / "r.json")
    runset = back.blocks[2].runsets[0]
    assert "'id0', 'id1', 'id2', 'id3'" in runset.filters
    assert (back.title, runset.entity, runset.project) == ("T", "me", "opt")


def test_optuna_journal_file_study(tmp_path: Path) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from research.report.discover import Study

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text(json.dumps(RESULTS))
    journal = str(tmp_path / "journal.log")
    storage = JournalStorage(JournalFileBackend(journal))
    study = optuna.create_study(study_name="s", storage=storage)
    study.add_trial(
        optuna.trial.create_trial(
            params={"optimizer.lr": 0.1},
            distributions={"optimizer.lr": optuna.distributions.FloatDistribution(0.01, 1.0)},
            value=0.5,
            user_attrs={"output_dir": str(tmp_path / "run")},
        )
    )
    (ref,) = discover([], [Study(journal, "s")])
    assert ref.path == tmp_path / "run" and ref.trial == 0 and ref.params == {"optimizer.lr": 0.1}
    with pytest.raises(ReportError, match=r"no study 'other' .* it holds 's'"):
        discover([], [Study(journal, "other")])
    with pytest.raises(ReportError, match="does not exist"):
        discover([], [Study(str(tmp_path / "missing.log"), "s")])


def test_classes_sharing_a_name_are_told_apart() -> None:
    runs = [
        run(config(target=t, seed=s))
        for t in ("torch.optim.Adam", "research.optim.Adam")
        for s in (0, 1)
    ]
    (task,) = group_runs(runs, ["optimizer"]).tasks
    assert [g.label for g in task.groups] == ["torch.optim.Adam", "research.optim.Adam"]


def test_keys_only_some_classes_have_do_not_split_or_label_groups() -> None:
    runs = [run(config(target="torch.optim.Adam", lr=1e-3, seed=s)) for s in (0, 1)]
    for s in (0, 1):
        sgd = config(target="torch.optim.SGD", lr=0.05, seed=s)
        del sgd["optimizer"]["betas"]
        sgd["optimizer"]["momentum"] = 0.9
        runs.append(run(sgd))
    grouping = group_runs(runs, ["optimizer"])
    assert grouping.group_keys == ["optimizer._target_", "optimizer.lr"]
    assert [g.label for g in grouping.tasks[0].groups] == ["Adam (lr=0.001)", "SGD (lr=0.05)"]
    assert "optimizer.betas" in grouping.differing  # still listed as a difference


def write_hydra_config(run_dir: Path, report: dict[str, Any] | None) -> RunRef:
    (run_dir / ".hydra").mkdir(parents=True)
    node = {"seed": 0, **({"report": report} if report is not None else {})}
    (run_dir / ".hydra" / "config.yaml").write_text(json.dumps(node))  # JSON is YAML
    return RunRef(run_dir)


def test_experiment_report_settings_fill_what_the_command_line_leaves_out(
    tmp_path: Path,
) -> None:
    from research.report.build import Options
    from research.report.settings import experiment_settings, with_settings

    report = {"metric": "val/x", "group_by": "optimizer,data.stochastic", "title": "T"}
    refs = [write_hydra_config(tmp_path / name, report) for name in ("0", "1")]
    settings = experiment_settings(refs)
    assert settings["group_by"] == ["optimizer", "data.stochastic"]
    options = with_settings(
        Options([tmp_path], tmp_path / "out", title="mine"), {"title"}, settings
    )
    assert (options.metric, options.title) == ("val/x", "mine")
    other = write_hydra_config(tmp_path / "2", {"metric": "val/acc"})
    assert experiment_settings([*refs, other]) == {}  # runs of different experiments: none
    bad = write_hydra_config(tmp_path / "3", {"metrc": "val/x"})
    with pytest.raises(ReportError, match=r"unknown report setting.*metrc.*allowed are"):
        experiment_settings([bad])


def test_methods_note_explains_steps_to_target_only_when_there_is_a_target() -> None:
    assert "Steps to target" not in methods_note(None)
    assert "Steps to target (0.9): first logged step" in methods_note(0.9)


def test_the_reproduce_commands_keep_what_the_user_typed_for_hydra(tmp_path: Path) -> None:
    from research.report.provenance import run_source, sweep_source

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text(
        "hydra:\n"
        "  overrides:\n"
        "    hydra: [hydra/sweeper=optuna, hydra.sweeper.n_trials=20, hydra.mode=MULTIRUN]\n"
        "    task: [experiment=noisy_quadratic, 'optimizer.lr=interval(1e-4,1)']\n"
        "  runtime:\n    cwd: /w\n"
    )
    assert sweep_source(sweep, 20).command == (
        "python -m research.train -m hydra/sweeper=optuna hydra.sweeper.n_trials=20 "
        "experiment=noisy_quadratic 'optimizer.lr=interval(1e-4,1)'"
    )
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps(RESULTS))
    (run_dir / ".hydra" / "hydra.yaml").write_text(
        "hydra:\n  mode: RUN\n  overrides:\n"
        "    hydra: [hydra.run.dir=out/a, hydra.mode=RUN]\n    task: [optimizer=adam]\n"
    )
    run = load_run(RunRef(run_dir), ["val/acc"])
    assert run_source(run).command == "python -m research.train hydra.run.dir=out/a optimizer=adam"


def test_the_lead_of_a_minimised_metric_is_positive_and_says_lower() -> None:
    """The AMSGrad counterexample's x: lower is better, and the best group leads by 2."""
    from research.report.metrics import metric_label
    from research.report.tables import lead_sentence

    runs = [
        run(config(lr=lr, seed=s), final=x + s / 100, metric="val/x")
        for lr, x in ((1e-3, -1.0), (1e-2, 1.0))
        for s in (0, 1)
    ]
    analysis = analyze(group_runs(runs, ["optimizer"]), "val/x", higher=False)
    lead = analysis.tasks[0].lead
    assert lead is not None and lead.best.label == "Adam (lr=0.001)"
    assert lead.difference == pytest.approx(2.0)
    sentence = lead_sentence(lead, "val/x")
    assert "lead over Adam (lr=0.01) (n=2): 2.0000 lower." in sentence
    assert next(r for r in summary_rows(analysis) if r["is_best"])["lead"] == pytest.approx(2.0)
    assert metric_label("val/loss") == "validation loss"  # no unit: a loss may be linear
    assert metric_label("train/loss_epoch") == "training loss, epoch mean"
    assert metric_label("val/acc") == "validation accuracy (fraction)"
