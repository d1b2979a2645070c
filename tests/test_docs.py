"""The docs cannot drift from the code: every code block of the README and the site's pages is
marked, run by a test at a small size or said not to run here (and why), and every command in
them is checked without running it (configs compose, options and scripts exist).

Blocks are read by id (`tests/docs.py`). The README's commands and one end-to-end command per
feature run in the default suite (here and in the tests that own them: the default run in
test_cli.py, the benchmark in test_benchmark.py, the reproduction in test_reproductions.py,
Ctrl-C's line in test_run_experience.py, the AdaBelief example in test_optim_extension.py);
the other runnable blocks run under `-m slow`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf, open_dict

from research.config.checks import validate
from research.config.compose import CONF, compose_run_config
from tests import docs
from tests.docs import REPO, Command

# A train command at a small size: appended, so they replace the command's own values.
SMALL = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=1",
    "trainer.limit_val_batches=2",
    "logger=csv",
]
SMALL_SWEEP = [*SMALL, "hydra.sweeper.n_trials=2"]
EXTERNAL = {"pip", "sbatch", "optuna-dashboard", "ruff", "mkdocs", "eval", "wandb"}


def run(command: Command, *extra: str, cwd: Path, timeout: float = 900, env=None):
    """A documented command as typed, with `extra` arguments appended."""
    words = list(command.words)
    if words[0] == "python":
        words[0] = sys.executable
    elif words[0].startswith("scripts/"):
        words[0] = str(REPO / words[0])
    environment = {**os.environ, "PYTHONPATH": str(REPO), **command.env, **(env or {})}
    return subprocess.run(
        [*words, *extra], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=environment,
    )  # fmt: skip


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result


# ---- every block is marked, and every mark is honoured ------------------------------------


def test_every_block_is_run_by_a_test_or_says_why_not() -> None:
    used = docs.ids_used_by_tests()
    problems = []
    for block in docs.blocks():
        if block.marker is None:
            problems.append(f"{block.where}: no <!-- test: ID --> or <!-- not run: REASON -->")
        elif block.marker == "not run" and block.value not in docs.REASONS:
            problems.append(f"{block.where}: reason {block.value!r}, not one of {docs.REASONS}")
        elif block.marker == "test" and block.value not in used:
            problems.append(f"{block.where}: no test reads block {block.value!r}")
    ids = {b.value for b in docs.blocks() if b.marker == "test"}
    problems += [f"tests read block {name!r}, which no doc has" for name in used - ids]
    for name in ids:  # an id on several blocks (the README repeats a page): the same commands
        same = [b for b in docs.blocks() if b.value == name]
        if len({tuple(c.words for c in b.commands()) for b in same}) > 1:
            problems.append(f"blocks {[b.where for b in same]} share id {name!r}, not commands")
    assert not problems, "\n".join(problems)


def test_every_page_is_in_the_site_and_every_snippet_exists() -> None:
    site = (docs.SITE / "mkdocs.yml").read_text()
    nav = set(re.findall(r"([\w/-]+\.md)", site.split("validation:")[0]))
    pages = {str(p.relative_to(docs.PAGES)) for p in docs.doc_files()[1:]}
    assert nav == pages, f"pages not in the nav: {pages - nav}; nav without a page: {nav - pages}"
    for path in docs.doc_files():
        for name in re.findall(r'^--8<-- "([^":]+)', path.read_text(), re.MULTILINE):
            assert (docs.SITE / name).is_file() or (REPO / name).is_file(), (path, name)
    for table in (docs.SITE / "measured").glob("*.md"):
        first = table.read_text().splitlines()[0]
        assert first.startswith("<!-- measured") and first.endswith("-->"), table


def test_development_commands_are_what_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    for command in [*docs.commands("development"), *docs.commands("docs-build")]:
        line = " ".join(command.words)
        assert re.search(rf"^(\S+=\S+ )?{re.escape(line)}", ci, re.MULTILINE), line


# ---- every command is checked without running it -------------------------------------------


def _first_point(overrides: list[str], confs: list[Path]) -> tuple[list[str], list[str]]:
    """A sweep's overrides at its first point (each list's first value), and the keys of the
    continuous ranges, which a point cannot take without sampling."""
    point, ranges = [], []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        if not override.is_sweep_override():
            point.append(f"{key}={override.get_value_element_as_str()}")
        elif override.is_discrete_sweep():
            values = list(override.sweep_string_iterator())
            point.append(f"{key}={values[0]}")
            if (CONF / key).is_dir():  # a group: every option swept over exists
                missing = [
                    v for v in values if not any((c / key / f"{v}.yaml").is_file() for c in confs)
                ]
                assert not missing, f"no {key}={missing[0]} in conf/{key}/"
        else:
            ranges.append(override.key_or_group)
    return point, ranges


def check_train(args: list[str], tmp_path: Path) -> None:
    """Composes and passes the start-up checks (a sweep: at its first point)."""
    overrides = [a for a in args if a not in {"-m", "--multirun", "--cfg", "job", "hydra"}]
    # the configs the pages add (conf/optimizer/adabelief.yaml), found as the page puts them
    docs.load_module("adabelief-py", "research.optim.adabelief")
    (tmp_path / "conf" / "optimizer").mkdir(parents=True, exist_ok=True)
    (tmp_path / "conf" / "optimizer" / "adabelief.yaml").write_text(
        docs.block("adabelief-yaml").text
    )
    overrides.append(f"hydra.searchpath=[file://{tmp_path / 'conf'}]")
    point, ranges = _first_point(overrides, [CONF, tmp_path / "conf"])
    try:
        cfg = compose_run_config(point, tmp_path / "run", tmp_path)
    finally:
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None
    for key in ranges:
        assert OmegaConf.select(cfg, key) is not None, f"{key} is not a key of the config"
    if cfg.get("ckpt_path") in (None, "last"):
        validate(cfg)


def check_benchmark(args: list[str], tmp_path: Path) -> None:
    from research.benchmark.spec import parse

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("benchmark", overrides=args, return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.cwd = str(tmp_path)
            cfg.hydra.runtime.output_dir = str(tmp_path)
        HydraConfig.instance().set_config(cfg)
        parse(cfg)
    finally:
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None


def check_script(command: Command) -> None:
    """The script exists; a Python script takes every option named; the reproduction exists."""
    path = REPO / (command.words[1] if command.words[0] == "python" else command.words[0])
    assert path.is_file(), path
    source = path.read_text()
    if path.suffix == ".py":
        for option in (a.split("=")[0] for a in command.args if a.startswith("--")):
            assert f'"{option}"' in source, f"{path.name} takes no {option}"
    else:
        assert os.access(path, os.X_OK), f"{path} is not executable"
        assert all(f"{o})" in source or f"{o} " in source for o in command.args if o[:2] == "--")
    if path.name == "reproduce.sh":
        name = command.args[0]
        assert (CONF / "experiment" / f"{name}.yaml").is_file() or (
            CONF / "experiment" / name
        ).is_dir(), name


def check(command: Command, tmp_path: Path) -> None:
    program, args = command.program, command.args
    if program == "python -m research.train":
        check_train(args, tmp_path)
    elif program == "python -m research.benchmark":
        check_benchmark(args, tmp_path)
    elif program == "python -m research.report":
        from research.report.__main__ import parser

        parser().parse_args(args)
    elif program == "python -m research.leaderboard":
        from research.leaderboard.__main__ import parser

        parser().parse_args(args)
    elif program == "python -m pytest":
        assert all((REPO / a).exists() for a in args if a.startswith("tests/")), args
    elif program.startswith(("python scripts/", "scripts/")):
        check_script(command)
    elif program == "sbatch":
        wrapped = args[args.index("--wrap") + 1]
        check(Command(tuple(wrapped.split())), tmp_path)
    else:
        assert program in EXTERNAL, f"no check for {program!r}: add one to tests/test_docs.py"


ALL_COMMANDS = [
    pytest.param(command, id=f"{block.where}:{i}")
    for block in docs.blocks()
    for i, command in enumerate(block.commands())
]


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_names_what_exists(command: Command, tmp_path: Path) -> None:
    check(command, tmp_path)


# ---- the README's examples, at a small size (default suite) --------------------------------


def test_readme_run(tmp_path: Path) -> None:
    ok(run(docs.command("readme-run"), *SMALL, cwd=tmp_path))
    (results,) = tmp_path.glob("outputs/*/*/results.json")
    record = json.loads(results.read_text())
    assert record["status"] == "completed" and record["seed"] == 3


def test_readme_search_then_report(tmp_path: Path) -> None:
    ok(run(docs.command("readme-search"), *SMALL_SWEEP, "data.num_samples=2000", cwd=tmp_path))
    assert len(list(tmp_path.glob("multirun/*/*/trial_*/results.json"))) == 2
    printed = ok(run(docs.command("readme-report"), cwd=tmp_path))
    assert (tmp_path / "report" / "report.html").is_file(), printed.stdout[-2000:]


def test_an_impossible_pair_prints_the_line_the_docs_show(tmp_path: Path) -> None:
    result = run(docs.command("impossible-pair"), "logger=none", cwd=tmp_path)
    assert result.returncode == 2
    printed = result.stdout + result.stderr
    assert not docs.missing_lines("impossible-pair", printed), printed[-2000:]


def test_wandb_sync_dry_run_lists_the_offline_runs(tmp_path: Path) -> None:
    offline = tmp_path / "multirun" / "2026-01-01" / "00-00-00" / "0" / "wandb" / "offline-run-x"
    offline.mkdir(parents=True)
    (offline / "run-x.wandb").write_bytes(b"")
    result = ok(run(docs.command("wandb-sync-dry-run"), cwd=tmp_path))
    assert "offline-run-x" in result.stdout + result.stderr


# ---- every other runnable block, at a small size (-m slow) ----------------------------------


@pytest.mark.slow
def test_running_examples(tmp_path: Path) -> None:
    for command in docs.commands("running-examples"):
        result = ok(run(command, *SMALL, cwd=tmp_path))
        if "--cfg" in command.args:
            assert "optimizer:" in result.stdout


@pytest.mark.slow
def test_resume_and_its_refusal(tmp_path: Path) -> None:
    in_place, elsewhere = docs.commands("resume")
    folder = next(a for a in in_place.args if a.startswith("hydra.run.dir="))
    first = [*SMALL[1:], "trainer.max_epochs=1", folder, "callbacks=default"]
    ok(run(Command(("python", "-m", "research.train")), *first, cwd=tmp_path))
    ok(run(in_place, *SMALL[1:], "trainer.max_epochs=2", cwd=tmp_path))
    checkpoint = tmp_path / folder.partition("=")[2] / "checkpoints" / "last.ckpt"
    refused = run(in_place, "trainer.max_epochs=3", "optimizer.lr=0.5", cwd=tmp_path)
    assert refused.returncode == 2
    assert not docs.missing_lines("resume-refused", refused.stderr), refused.stderr[-2000:]
    given = f"ckpt_path={checkpoint}"
    words = [given if w.startswith("ckpt_path=") else w for w in elsewhere.words]
    ok(run(Command(tuple(words)), *SMALL[1:], "trainer.max_epochs=3", cwd=tmp_path))


@pytest.mark.slow
def test_problems(tmp_path: Path) -> None:
    for command in docs.commands("problems"):
        ok(run(command, *SMALL, cwd=tmp_path))


@pytest.mark.slow
def test_search_examples(tmp_path: Path) -> None:
    for command in docs.commands("search-examples"):
        ok(run(command, *SMALL_SWEEP, "data.num_samples=2000", cwd=tmp_path))


@pytest.mark.slow
def test_a_study_of_another_experiment_is_refused_as_the_docs_show(tmp_path: Path) -> None:
    (search, *_) = docs.commands("search-examples")
    ok(run(search, *SMALL_SWEEP, "hydra.sweeper.n_trials=1", cwd=tmp_path))
    refused = run(search, *SMALL_SWEEP, "data=digits", cwd=tmp_path)
    assert refused.returncode == 2
    assert not docs.missing_lines("study-refused", refused.stderr), refused.stderr[-2000:]


@pytest.mark.slow
def test_several_objectives_print_what_the_docs_show(tmp_path: Path) -> None:
    result = ok(run(docs.command("multi-objective"), cwd=tmp_path))  # small as shown
    printed = result.stdout + result.stderr
    shown = [line for line in docs.shown_lines("multi-objective") if line[0] not in "┏┡└│"]
    missing = [line for line in docs.missing_lines("multi-objective", printed) if line in shown]
    assert not missing, printed[-3000:]


@pytest.mark.slow
def test_a_config_error_stops_the_sweep_as_the_docs_show(tmp_path: Path) -> None:
    result = run(docs.command("preflight-refused"), cwd=tmp_path)
    assert result.returncode == 2
    assert not docs.missing_lines("preflight-refused", result.stderr), result.stderr[-2000:]


@pytest.mark.slow
def test_report_examples(tmp_path: Path) -> None:
    sweep, report, study_report = docs.commands("report-examples")
    ok(run(sweep, "trainer.max_epochs=1", cwd=tmp_path))
    ok(run(report, cwd=tmp_path))
    ok(run(docs.command("readme-search"), *SMALL_SWEEP, "data.num_samples=2000", cwd=tmp_path))
    ok(run(study_report, cwd=tmp_path))
    assert (tmp_path / "report-search" / "report.html").is_file()


@pytest.mark.slow
def test_adding_an_optimizer_as_the_docs_show(tmp_path: Path) -> None:
    """The page's AdaBelief files, found where the page puts them (research/optim/adabelief.py,
    conf/optimizer/adabelief.yaml) without writing into the checkout."""
    module = tmp_path / "adabelief.py"
    module.write_text(docs.block("adabelief-py").text)
    (tmp_path / "conf" / "optimizer").mkdir(parents=True)
    (tmp_path / "conf" / "optimizer" / "adabelief.yaml").write_text(
        docs.block("adabelief-yaml").text
    )
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(
        "import importlib.abc, importlib.util, sys\n"
        "class Finder(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'research.optim.adabelief':\n"
        f"            return importlib.util.spec_from_file_location(name, {str(module)!r})\n"
        "sys.meta_path.insert(0, Finder())\n"
    )  # fmt: skip
    env = {"PYTHONPATH": f"{tmp_path / 'site'}:{REPO}"}
    searchpath = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    single, multirun, report = docs.commands("adabelief-commands")
    ok(run(single, *SMALL, searchpath, cwd=tmp_path, env=env))
    ok(run(multirun, *SMALL, searchpath, cwd=tmp_path, env=env))
    (sweep,) = tmp_path.glob("multirun/*/*")
    words = [str(sweep) if w.startswith("multirun/") else w for w in report.words]
    ok(run(Command(tuple(words)), cwd=tmp_path))


@pytest.mark.slow
def test_reproduction_by_hand(tmp_path: Path) -> None:
    ok(run(docs.command("reproduce-by-hand"), *SMALL, "trainer.max_steps=2", cwd=tmp_path))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("mkdocs") is None, reason="mkdocs: pip install -e '.[docs]'")
def test_the_site_builds_with_strict(tmp_path: Path) -> None:
    (build,) = docs.commands("docs-build")
    ok(run(build, "--site-dir", str(tmp_path / "site"), cwd=REPO))
