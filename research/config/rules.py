"""What a config value may be, declared once per field: the check and its one-line message
come from the same declaration, so the message always says what the check allows.

Every rule answers `problem(value)`: None when the value is allowed, else what it must be
("must be an integer >= 1"). `check_fields` turns the first problem of a node into a
ConfigError naming the field and the value as the user wrote it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from research.config.errors import ConfigError

UINT32_MAX = 2**32 - 1  # numpy's and Lightning's largest seed
UNSET = object()  # what no rule allows: its problem is the rule's whole description


class Rule(Protocol):
    def problem(self, value: Any) -> str | None:
        """None when `value` is allowed, else what it must be ("must be ...")."""


def shown(value: Any) -> str:
    """A value as it is written on the command line: null, true, 'text', [1, 2], 0.5."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list | tuple | ListConfig):
        return f"[{', '.join(shown(v) for v in value)}]"
    if isinstance(value, dict | DictConfig):
        return "{" + ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def invalid(path: str, value: Any, problem: str) -> ConfigError:
    return ConfigError(f"{path}={shown(value)} is invalid: {problem}")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else str(value)


@dataclass(frozen=True)
class Number:
    """A real number, or an integer, in a range; `special` values outside it mean something
    (-1: no limit), null is allowed when `null` says what it means."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    infinite: bool = False  # inf is allowed (e.g. "never")
    special: Mapping[int, str] = field(default_factory=dict)
    null: str | None = None  # what null means, when it is allowed
    why: str = ""

    def range(self) -> str:
        low, high = self.low, self.high
        if low is not None and high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{_bound(low)}, {_bound(high)}{right}"
        if low is not None:
            return f"{'>' if self.low_open else '>='} {_bound(low)}"
        if high is not None:
            return f"{'<' if self.high_open else '<='} {_bound(high)}"
        return ""

    def _must(self, kind: str) -> str:
        """`kind` is "an integer", "a number", "a finite number" or "" (a range error)."""
        text = " ".join(part for part in (kind, self.range()) if part) or "a finite number"
        others = [f"{_bound(v)} ({meaning})" for v, meaning in self.special.items()]
        if self.null is not None:
            others.insert(0, f"null ({self.null})")
        text = f"{', '.join(others)} or {text}" if others else text
        return f"must be {text}{f' ({self.why})' if self.why else ''}"

    def problem(self, value: Any) -> str | None:
        if value is None:
            return None if self.null is not None else self._must(self._kind())
        if not is_number(value) or (self.integer and not isinstance(value, int)):
            return self._must(self._kind())
        if value in self.special:
            return None
        if math.isnan(value) or (math.isinf(value) and not self.infinite):
            return self._must("an integer" if self.integer else "a finite number")
        low, high = self.low, self.high
        too_low = low is not None and (value <= low if self.low_open else value < low)
        too_high = high is not None and (value >= high if self.high_open else value > high)
        return self._must("an integer" if self.integer else "") if too_low or too_high else None

    def _kind(self) -> str:
        return "an integer" if self.integer else "a number"


@dataclass(frozen=True)
class Flag:
    """true or false (`null` when it may be left unset)."""

    null: str | None = None

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool) or (value is None and self.null is not None):
            return None
        return "must be true or false" + (f" or null ({self.null})" if self.null else "")


@dataclass(frozen=True)
class OneOf:
    """One of a few values, compared with their types (32 and "32" are different values)."""

    choices: tuple[Any, ...]

    def problem(self, value: Any) -> str | None:
        if any(value == c and type(value) is type(c) for c in self.choices):
            return None
        return f"must be one of {', '.join(dict.fromkeys(_choice(c) for c in self.choices))}"


def _choice(value: Any) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Text:
    """A string, not empty unless `empty` is allowed, without characters from `forbidden`."""

    null: str | None = None
    empty: bool = False
    forbidden: str = ""

    def problem(self, value: Any) -> str | None:
        if value is None and self.null is not None:
            return None
        if isinstance(value, str) and (value or self.empty):
            if not any(c in value for c in self.forbidden):
                return None
            return f"must not contain any of {' '.join(self.forbidden)}"
        kind = "a string" if self.empty else "a non-empty string"
        return f"must be {kind}" + (f" or null ({self.null})" if self.null else "")


@dataclass(frozen=True)
class Texts:
    """A list of strings (tags)."""

    def problem(self, value: Any) -> str | None:
        if isinstance(value, list | ListConfig) and all(isinstance(v, str) for v in value):
            return None
        return "must be a list of strings, e.g. [baseline, adam]"


@dataclass(frozen=True)
class Numbers:
    """A list of numbers, each allowed by `item`, at least `min_length` of them."""

    item: Number
    min_length: int = 1

    def problem(self, value: Any) -> str | None:
        listed = isinstance(value, list | ListConfig) and len(value) >= self.min_length
        if listed and all(self.item.problem(v) is None for v in value):
            return None
        items = "integers" if self.item.integer else "numbers"
        return f"must be a list of {self.min_length} or more {items} {self.item.range()}".rstrip()


@dataclass(frozen=True)
class ExistingFile:
    """The path of a file that exists (relative paths from the working directory)."""

    what: str = "file"
    null: str | None = None

    def problem(self, value: Any) -> str | None:
        if value is None and self.null is not None:
            return None
        if isinstance(value, str) and value and Path(value).is_file():
            return None
        return f"must be the path of an existing {self.what}" + (
            f" or null ({self.null})" if self.null else ""
        )


@dataclass(frozen=True)
class Folder:
    """A folder path: one that exists, or (`may_create`) any path that is not a file."""

    may_create: bool = False

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or not value:
            return "must be the path of a folder"
        path = Path(value)
        if path.is_dir() or (self.may_create and not path.exists()):
            return None
        return "must be a folder, not a file" if path.exists() else "must be an existing folder"


@dataclass(frozen=True)
class AnyOf:
    """Allowed by one of `rules`; the message lists `allowed`."""

    rules: tuple[Rule, ...]
    allowed: str

    def problem(self, value: Any) -> str | None:
        if any(rule.problem(value) is None for rule in self.rules):
            return None
        return f"must be {self.allowed}"


Combined = Callable[[str, DictConfig], None]


def check_fields(prefix: str, node: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Raise ConfigError for the first field of `node` that its rule refuses; fields without
    a rule are left alone, and a rule without a field (a default in code) is not checked."""
    present = set(node.keys())  # a DictConfig's `in` is False for a ??? value
    for name, rule in rules.items():
        if name not in present:
            continue
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(node, DictConfig) and OmegaConf.is_missing(node, name):
            raise ConfigError(f"{path}=??? is invalid: it is required and {rule.problem(UNSET)}")
        try:
            value = _plain(node[name])
        except OmegaConfBaseException as error:  # an interpolation that does not resolve
            reason = str(error).strip().splitlines()[0]
            raise ConfigError(f"{path} cannot be resolved: {reason}") from None
        problem = rule.problem(value)
        if problem is not None:
            raise invalid(path, value, problem)


def check_node(
    prefix: str,
    node: DictConfig,
    rules: Mapping[str, Rule],
    combined: Iterable[Combined] = (),
) -> None:
    """The fields one by one, then the checks that read several of them together."""
    check_fields(prefix, node, rules)
    for check in combined:
        check(prefix, node)


def target_of(node: Any) -> str:
    return str(node.get("_target_", "")) if isinstance(node, DictConfig) else ""


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def values(node: DictConfig, names: Sequence[str]) -> list[Any]:
    """Several fields at once, as plain values (a missing field is None)."""
    return [_plain(node.get(name)) for name in names]
