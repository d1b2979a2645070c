"""The package layout as the README's "Layout" section writes it down: which package of
`research/` may import which, and no import cycle between modules."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import docs

PACKAGE = Path(__file__).resolve().parents[1] / "research"

# package -> the packages it may import (the data flows config -> run -> sweep -> benchmark ->
# leaderboard; report compares runs and lends the leaderboard its statistics over seeds, HTML
# and figure style)
ALLOWED = {
    "config": set(),
    "optim": set(),
    "tracking": set(),
    "data": {"config"},
    "models": {"config", "data"},
    "problems": {"config", "data", "models"},
    "training": {"config", "data", "models", "problems", "optim", "tracking"},
    "train": {"config", "training"},
    "sweep": {"config", "tracking", "training"},
    "benchmark": {"config", "tracking", "training", "sweep"},
    "report": {"config", "tracking"},
    "leaderboard": {"config", "report"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> Iterator[str]:
    """The `research.*` modules a file imports (at import time only, if asked)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        yield from (name for name in names if name.split(".")[0] == "research")


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def test_every_package_imports_only_what_the_layout_allows() -> None:
    modules = _modules()
    packages = {name.split(".")[1] for name in modules if name.count(".") >= 1}
    assert packages == set(ALLOWED), "a new package needs its row in ALLOWED and the README"
    wrong = []
    for name, path in modules.items():
        if name == "research":
            continue
        package = name.split(".")[1]
        for imported in _imports(path, top_level_only=False):
            target = imported.split(".")[1] if imported.count(".") else None
            if target and target != package and target not in ALLOWED[package]:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_modules() -> None:
    modules = _modules()
    graph = {
        name: {i for i in _imports(path, top_level_only=True) if i in modules and i != name}
        for name, path in modules.items()
    }
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for imported in sorted(graph[name]):
            if state.get(imported) == "open":
                pytest.fail("import cycle: " + " -> ".join([*trail, name, imported]))
            if imported not in state:
                visit(imported, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def _layout_tree() -> dict[str, set[str]]:
    """The README's Layout tree: each package (or module) and the packages it says it imports,
    read from the column that starts at "imports" (wrapped lines continue in that column)."""
    entries: dict[str, list[str]] = {}
    column = None
    for line in docs.block("layout").text.splitlines()[1:]:
        name = line[2:].split()[0].rstrip("/").removesuffix(".py") if line[2:3] != " " else None
        if name:
            column = line.index(" imports ")
            entries[name] = []
        right = re.match(r".*\s{2,}(\S.*)$", line)  # the right column, after a gap
        if name:
            entries[name].append(line[column:].strip())
        elif column and right and right.start(1) >= column:
            entries[list(entries)[-1]].append(right[1])
    tree = {}
    for name, parts in entries.items():
        listed = " ".join(parts).removeprefix("imports ").replace(",", " ").split()
        tree[name] = set() if listed == ["nothing"] else set(listed)
    return tree


def test_readme_layout_and_architecture_page_say_what_the_layout_allows() -> None:
    assert _layout_tree() == ALLOWED, "README's Layout tree and ALLOWED disagree"
    page = (docs.PAGES / "architecture.md").read_text()
    assert '--8<-- "README.md:layout"' in page, "the architecture page includes the Layout"
