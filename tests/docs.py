"""The documentation's code blocks, as tests read them: README.md and the site's pages
(`scripts/docs/pages/`).

Every fenced block carries a marker, an HTML comment on the line just above its fence, which
renders as nothing on GitHub and on the site:

- `<!-- test: ID -->`: a test reads the block by its id (`block("ID")`, `commands("ID")`)
  and runs it at a small size, or checks the printed output the block shows;
- `<!-- not run: REASON -->`: it cannot run here, for one of `REASONS`; its commands are
  still checked without running (`tests/test_docs.py`: configs compose, options exist).
"""

from __future__ import annotations

import itertools
import re
import shlex
import sys
import types
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "scripts" / "docs"
PAGES = SITE / "pages"
REASONS = {
    "GPU": "needs a GPU",
    "network": "downloads, or talks to a server outside this machine",
    "cluster": "needs a SLURM cluster or a database server",
    "hours": "takes hours on 2 CPU cores",
}
SHELL = {"bash", "sh", "shell", "console"}
MARKER = re.compile(r"^<!-- (?:(test): ([\w-]+)|(not run): (\w+)) -->$")


def doc_files() -> list[Path]:
    """README.md and every page of the site (not the measured tables they include)."""
    pages = sorted(p for p in PAGES.rglob("*.md") if not {"measured", "results"} & set(p.parts))
    return [REPO / "README.md", *pages]


@dataclass(frozen=True)
class Command:
    """One command of a block: its words after the shell's quoting, variables of the block
    expanded, environment assignments (`OMP_NUM_THREADS=1 python ...`) split off."""

    words: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def program(self) -> str:
        """`python -m research.train`, `python scripts/bench_optim.py`, `scripts/reproduce.sh`."""
        if self.words[:2] == ("python", "-m"):
            return " ".join(self.words[:3])
        if self.words[0] == "python" and len(self.words) > 1:
            return " ".join(self.words[:2])
        return self.words[0]

    @property
    def args(self) -> list[str]:
        return list(self.words[len(self.program.split()) :])


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    marker: str | None  # "test" or "not run"
    value: str | None  # the id or the reason

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def shell(self) -> bool:
        return self.lang in SHELL

    def commands(self) -> list[Command]:
        """The block's commands: continuation lines joined, comments dropped, `&&` split;
        in an output block, the lines after `$ `."""
        lines, pending = [], ""
        for raw in self.text.splitlines():
            if not self.shell and not (pending or raw.startswith("$ ")):
                continue
            raw = raw.removeprefix("$ ")
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            lines.append(pending + raw)
            pending = ""
        variables: dict[str, str] = {}
        out = []
        for line in lines:
            every = shlex.split(line, comments=True)
            cuts = [-1, *(i for i, word in enumerate(every) if word == "&&"), len(every)]
            for start, stop in itertools.pairwise(cuts):
                words = every[start + 1 : stop]
                if not words:
                    continue
                if words[0] == "export":
                    words = words[1:]
                env = {}
                while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
                    name, _, value = words.pop(0).partition("=")
                    env[name] = value
                if not words:  # an assignment: a variable for the commands below
                    variables |= {k: v for k, v in env.items() if not v.startswith("...")}
                    continue
                words = [_expand(word, variables) for word in words]
                out.append(Command(tuple(words), env))
        return out


def _expand(word: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: variables.get(m[1] or m[2], m[0]), word)


@cache
def blocks() -> tuple[Block, ...]:
    found = []
    for path in doc_files():
        lines = path.read_text().splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("```"):
                i += 1
                continue
            start, lang = i, lines[i][3:].strip()
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            above = lines[start - 1].strip() if start else ""
            match = MARKER.match(above)
            marker = value = None
            if match:
                marker, value = (match[1], match[2]) if match[1] else (match[3], match[4])
            text = "\n".join(lines[start + 1 : end])
            found.append(Block(path, start + 1, lang, text, marker, value))
            i = end + 1
    return tuple(found)


def block(test_id: str) -> Block:
    """The block with this id (the first, where the README repeats a page's block: the test
    of the marks checks that they hold the same commands)."""
    found = [b for b in blocks() if b.marker == "test" and b.value == test_id]
    assert found, f"no block has <!-- test: {test_id} -->"
    return found[0]


def commands(test_id: str) -> list[Command]:
    return block(test_id).commands()


def command(test_id: str) -> Command:
    (only,) = commands(test_id)
    return only


def shown_lines(test_id: str) -> list[str]:
    """The printed lines an output block shows: not its `$ ` command, not `...` cuts."""
    lines, continued = [], False
    for line in block(test_id).text.splitlines():
        if line.startswith("$ ") or continued:
            continued = line.rstrip().endswith("\\")
            continue
        if line.strip() not in {"", "..."}:
            lines.append(line)
    return lines


NUMBER = re.compile(r"\d+(?:[.,]\d+)*(?:e[+-]?\d+)?")


def _pattern(shown: str) -> re.Pattern[str]:
    """A shown line as a pattern: numbers, `<placeholders>`, `/path/to/...` paths, `...` and
    runs of spaces stand for whatever the run prints there (times, paths, metric values)."""
    parts = re.split(r"(<[\w ]+>|/path/to/[^\s;]*|\.\.\.|\s+)", shown.strip())
    out = []
    for part in parts:
        if not part:
            continue
        if part.startswith(("<", "/path/to/")) or part == "...":
            out.append(r".*?")
        elif part.isspace():
            out.append(r"\s+")
        else:
            pieces = NUMBER.split(part)
            out.append(r"-?\d+(?:[.,]\d+)*(?:e[+-]?\d+)?".join(map(re.escape, pieces)))
    return re.compile("".join(out))


def missing_lines(test_id: str, printed: str) -> list[str]:
    """The lines of block `test_id` that the printed text does not show (in any line, with
    numbers, paths and placeholders free: they vary from run to run and machine to machine)."""
    printed_lines = printed.splitlines()
    return [
        shown
        for shown in shown_lines(test_id)
        if not any(_pattern(shown).search(line) for line in printed_lines)
    ]


def ids_used_by_tests() -> set[str]:
    """Block ids named in the tests' calls: `docs.block("ID")`, `docs.commands("ID")`, ..."""
    reads = "block|commands|command|shown_lines|missing_lines|load_module"
    call = re.compile(rf"docs\.(?:{reads})\(\s*\"([\w-]+)\"")
    used = set()
    for path in (REPO / "tests").glob("test_*.py"):
        used |= set(call.findall(path.read_text()))
    return used


def load_module(test_id: str, name: str) -> types.ModuleType:
    """A python block, as the module `name` (what its config's `_target_` names)."""
    module = types.ModuleType(name)
    module.__file__ = str(block(test_id).path)
    sys.modules[name] = module
    exec(compile(block(test_id).text, block(test_id).where, "exec"), module.__dict__)
    return module
