"""Allowed ranges of scalar hyperparameters, checked when an optimizer or a param group is made.

A bad value (a typo in a sweep, beta2=1.0 from a search space edge) should fail at construction
with a one-line message naming the field, not as NaN parameters a thousand steps later.
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
    high: float | None = None  # exclusive upper end; None means unbounded
    low_inclusive: bool = True
    reason: str = ""  # why the range is what it is, shown in the error

    def check(self, value: object, owner: str) -> None:
        """Raise ValueError with a one-line message if `value` is outside the range."""
        if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
            raise ValueError(f"{self.name}={value!r} must be a real number")
        above_low = value >= self.low if self.low_inclusive else value > self.low
        below_high = self.high is None or value < self.high
        if above_low and below_high:
            return
        shown = f"{self.name}={value:g}"
        if self.high is not None:
            opening = "[" if self.low_inclusive else "("
            interval = f"{opening}{self.low:g}, {self.high:g})"
            raise ValueError(f"{shown} is out of range: must be in {interval}")
        relation = ">=" if self.low_inclusive else ">"
        why = f" for {owner} ({self.reason})" if self.reason else ""
        raise ValueError(f"{shown} must be {relation} {self.low:g}{why}")
