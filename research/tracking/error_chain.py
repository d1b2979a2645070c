"""The error behind an error: what a run must report is often re-raised as something else
(torch.save's short write as RuntimeError, a signal through Lightning as TypeError), or
surfaces while another error is handled."""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


def first_in_chain(error: BaseException, kind: type[E]) -> E | None:
    """The first `kind` in `error`'s chain of causes and contexts, or None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
