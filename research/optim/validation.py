"""Allowed values of scalar hyperparameters, checked when an optimizer or a param group is made.

A bad value (a typo in a sweep, beta2=1.0 from a search space edge) should fail at construction
with a one-line message naming the field, not as NaN parameters a thousand steps later.
Numbers have a `Bound` (a range, optionally an integer, optionally None for "derived from the
others", e.g. Prodigy's beta3); switches are a `Flag` (true/false); named variants a `Choice`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real


@dataclass(frozen=True)
class Bound:
    """The allowed range of one hyperparameter: `low <= value < high` (or `low < value`)."""

    name: str
    low: float = 0.0
    high: float | None = None  # upper end (exclusive unless high_inclusive); None: unbounded
    low_inclusive: bool = True
    high_inclusive: bool = False
    reason: str = ""  # why the range is what it is, shown in the error
    integer: bool = False  # a count (Newton-Schulz steps, warm-up steps)
    optional: bool = False  # None allowed: the optimizer derives the value (see its docstring)

    def check(self, value: object, owner: str) -> None:
        """Raise ValueError with a one-line message if `value` is outside the range."""
        if value is None and self.optional:
            return
        if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
            raise ValueError(f"{self.name}={value!r} must be a real number")
        if self.integer and not (math.isfinite(value) and value == int(value)):
            raise ValueError(f"{self.name}={value!r} must be an integer")
        above_low = value >= self.low if self.low_inclusive else value > self.low
        below_high = (
            self.high is None or value < self.high or (self.high_inclusive and value == self.high)
        )
        if above_low and below_high:
            return
        shown = f"{self.name}={value:g}"
        if self.high is not None:
            opening = "[" if self.low_inclusive else "("
            closing = "]" if self.high_inclusive else ")"
            interval = f"{opening}{self.low:g}, {self.high:g}{closing}"
            raise ValueError(f"{shown} is out of range: must be in {interval}")
        relation = ">=" if self.low_inclusive else ">"
        why = f" for {owner} ({self.reason})" if self.reason else ""
        raise ValueError(f"{shown} must be {relation} {self.low:g}{why}")


@dataclass(frozen=True)
class Flag:
    """A switch between two variants of a rule, e.g. RAdam's decoupled_weight_decay."""

    name: str

    def check(self, value: object, owner: str) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"{self.name}={value!r} must be true or false")


@dataclass(frozen=True)
class Choice:
    """One of a few named variants, e.g. Muon's adjust_lr_fn."""

    name: str
    options: tuple[str, ...]

    def check(self, value: object, owner: str) -> None:
        if value not in self.options:
            raise ValueError(f"{self.name}={value!r} must be one of {', '.join(self.options)}")


Hyperparameter = Bound | Flag | Choice
