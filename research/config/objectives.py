"""`optimized_metric` names what a run returns to a sweeper: one metric (the run returns its
value) or a list of them, for a multi-objective search (the run returns their values, in that
order). Read through these functions so that a string and a list mean the same everywhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def several(optimized_metric: Any) -> bool:
    """A list (a ListConfig too), even of one name: the run returns a list of values."""
    return isinstance(optimized_metric, Sequence) and not isinstance(optimized_metric, str)


def metric_names(optimized_metric: Any) -> list[str]:
    """The names as a list: a string is one metric."""
    if several(optimized_metric):
        return [str(name) for name in optimized_metric]
    return [str(optimized_metric)]
