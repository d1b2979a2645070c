"""Search space: Hydra's sweep syntax -> Optuna distributions, sampled values -> overrides.

Syntax (parsed by Hydra's own override parser, so it reads like any Hydra sweep):

    interval(a, b)                      float in [a, b]
    tag(log, interval(a, b))            float in [a, b], log scale
    tag(log, one_minus, interval(a, b)) the run gets 1 - x, with x log-uniform in [a, b]:
                                        betas near 1 (0.9, 0.99, 0.999) equally reachable
    range(a, b[, step])                 a, a+step, ... with b excluded, as Hydra's basic sweeper
    tag(log, range(a, b))               integers, log scale
    choice(x, y, ...) or x,y,...        categorical (also config groups: optimizer=adam,adamw)
    anything else                       a fixed override every trial gets

A `one_minus` parameter is stored in Optuna as `1-<key>` (the value sampled); the value the run
gets is recorded in the trial's `applied_params` user attribute.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from research.config.errors import ConfigError

LOG, ONE_MINUS = "log", "one_minus"
PRIMITIVES = (type(None), bool, int, float, str)


class SearchSpaceError(ConfigError):
    """A `hydra.sweeper.params` entry that cannot become an Optuna distribution."""


@dataclass(frozen=True)
class Param:
    key: str  # as in the override, e.g. `optimizer.beta1` or `+model.extra`
    name: str  # the Optuna parameter name
    distribution: BaseDistribution
    one_minus: bool = False
    choice_texts: tuple[str, ...] = ()  # override text of each categorical choice
    grid: tuple[Any, ...] | None = None  # every value, for the grid sampler

    def applied(self, sampled: Any) -> Any:
        """The value the run gets for a sampled value."""
        return _one_minus(sampled) if self.one_minus else sampled

    def sampled(self, applied: Any) -> Any:
        """The inverse of `applied`: what to enqueue for a value the run should get."""
        return _one_minus(applied) if self.one_minus else applied

    def override(self, sampled: Any) -> str:
        if isinstance(self.distribution, CategoricalDistribution):
            text = self.choice_texts[self.distribution.to_internal_repr(sampled)]
        else:
            text = repr(self.applied(sampled))
        return f"{self.key}={text}"


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]
    fixed: tuple[str, ...]  # overrides every trial gets as they are

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {p.name: p.distribution for p in self.params}

    def overrides(self, sampled: Mapping[str, Any]) -> list[str]:
        return [*self.fixed, *(p.override(sampled[p.name]) for p in self.params)]

    def applied(self, sampled: Mapping[str, Any]) -> dict[str, Any]:
        return {p.key.lstrip("+"): p.applied(sampled[p.name]) for p in self.params}

    def to_sampled(self, applied: Mapping[str, Any]) -> dict[str, Any]:
        """{key: value the run gets} (an `enqueue` entry) -> Optuna params."""
        by_key = {p.key.lstrip("+"): p for p in self.params}
        unknown = set(applied) - set(by_key)
        if unknown:
            raise SearchSpaceError(
                f"enqueue names {sorted(unknown)}, which are not searched; "
                f"searched: {sorted(by_key)}"
            )
        return {by_key[k].name: by_key[k].sampled(v) for k, v in applied.items()}

    def first_point(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Sampled values for a pre-flight check: `given` (the first enqueued point), else
        each parameter's first value (the first choice, the low end of a range)."""
        point = {p.name: _first_value(p.distribution) for p in self.params}
        return {**point, **(given or {})}

    def grid(self) -> dict[str, list[Any]]:
        continuous = [p.key for p in self.params if p.grid is None]
        if continuous:
            raise SearchSpaceError(
                f"the grid sampler needs choice() or range() values; {continuous} are intervals"
            )
        return {p.name: list(p.grid or ()) for p in self.params}

    def grid_size(self) -> int:
        return math.prod(len(values) for values in self.grid().values())


def parse_search_space(
    params: Mapping[str, Any], arguments: Sequence[str] = (), config_loader: Any = None
) -> SearchSpace:
    """`hydra.sweeper.params` then the command line's overrides (which win, key by key)."""
    lines = [f"{key}={_as_text(value)}" for key, value in params.items()]
    parser = OverridesParser.create(config_loader=config_loader)
    by_key: dict[str, Override] = {}
    for override in parser.parse_overrides([*lines, *arguments]):
        by_key.pop(override.get_key_element(), None)
        by_key[override.get_key_element()] = override
    searched = tuple(_param(o) for o in by_key.values() if o.is_sweep_override())
    fixed = tuple(o.input_line or "" for o in by_key.values() if not o.is_sweep_override())
    return SearchSpace(params=searched, fixed=fixed)


def _param(override: Override) -> Param:
    key = override.get_key_element()
    value = override.value()
    try:
        if isinstance(value, IntervalSweep):
            return _interval(key, value)
        if isinstance(value, RangeSweep):
            return _range(key, value, list(override.sweep_iterator()))
        if isinstance(value, ChoiceSweep) or override.is_choice_sweep():
            _check_tags(key, getattr(value, "tags", set()), allowed=set())
            return _choice(key, list(override.sweep_iterator()))
    except ValueError as error:  # Optuna's own checks, e.g. log scale with low <= 0
        raise SearchSpaceError(f"{override.input_line}: {error}") from error
    raise SearchSpaceError(f"{override.input_line}: unsupported sweep {type(value).__name__}")


def _interval(key: str, sweep: IntervalSweep) -> Param:
    _check_tags(key, sweep.tags, allowed={LOG, ONE_MINUS})
    low, high, one_minus = float(sweep.start), float(sweep.end), ONE_MINUS in sweep.tags
    if one_minus and not 0.0 <= low < high <= 1.0:
        raise SearchSpaceError(f"{key}: one_minus needs 0 <= a < b <= 1, got [{low}, {high}]")
    name = f"1-{key.lstrip('+')}" if one_minus else key.lstrip("+")
    distribution = FloatDistribution(low, high, log=LOG in sweep.tags)
    return Param(key=key, name=name, distribution=distribution, one_minus=one_minus)


def _range(key: str, sweep: RangeSweep, values: list[Any]) -> Param:
    _check_tags(key, sweep.tags, allowed={LOG})
    if not values:
        raise SearchSpaceError(f"{key}: range({sweep.start}, {sweep.stop}, {sweep.step}) is empty")
    log, step = LOG in sweep.tags, abs(sweep.step)
    distribution: BaseDistribution
    if all(isinstance(v, int) for v in (sweep.start, sweep.stop, sweep.step)):
        distribution = IntDistribution(min(values), max(values), log=log, step=step)
    else:
        values = [round(float(v), 12) for v in values]
        distribution = FloatDistribution(min(values), max(values), log=log, step=step)
    return Param(key=key, name=key.lstrip("+"), distribution=distribution, grid=tuple(values))


def _choice(key: str, values: list[Any]) -> Param:
    texts = tuple(Transformer.str(v) for v in values)
    choices = tuple(values) if all(isinstance(v, PRIMITIVES) for v in values) else texts
    return Param(
        key=key,
        name=key.lstrip("+"),
        distribution=CategoricalDistribution(choices),
        choice_texts=texts,
        grid=choices,
    )


def _check_tags(key: str, tags: set[str], allowed: set[str]) -> None:
    unknown = set(tags) - allowed
    if unknown:
        raise SearchSpaceError(
            f"{key}: unknown tag(s) {sorted(unknown)}; allowed here: {sorted(allowed) or 'none'}"
        )


def quoted(text: str) -> str:
    """A string as a quoted Hydra override value: URLs, paths and names survive re-parsing."""
    return "'" + text.replace("'", "\\'") + "'"


def _first_value(distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    assert isinstance(distribution, (FloatDistribution, IntDistribution))
    return distribution.low


def _one_minus(value: float) -> float:
    # 12 significant digits: 1 - 0.001 is passed as 0.999, not 0.9990000000000001.
    return float(f"{1.0 - value:.12g}")


def _as_text(value: Any) -> str:
    """A YAML value as override text: strings as written, numbers/bools/null as Hydra reads them."""
    return value if isinstance(value, str) else json.dumps(value)
