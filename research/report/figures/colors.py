"""The colour of a group, the same in every figure of a report.

Hues come from colour-blind-safe qualitative palettes (Okabe & Ito 2008, then Paul Tol's
"muted"), so no two optimizers get hues a reader confuses. A hue belongs to an optimizer (a
*family*); groups of one family (the same optimizer at several learning rates) get shades of
its hue, dark to light in the order given, so a learning-rate ladder reads as a lightness
ladder and the optimizer stays recognisable in every figure. A reader tells about three
shades of one hue apart, not nine: a larger family shares each of three shades between
neighbouring groups, and groups that share a colour (also hues repeated past the palette)
differ by their line's marker, so each curve matches one legend entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.colors import to_rgb

from research.report.grouping import MISSING, family_label

if TYPE_CHECKING:
    from research.report.analysis import Analysis

Color = tuple[float, float, float]

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442")
TOL_MUTED = ("#332288", "#117733", "#882255", "#44AA99", "#999933", "#AA4499", "#DDCC77")
HUES = OKABE_ITO + TOL_MUTED
NEUTRAL: Color = (0.3, 0.3, 0.3)  # a family line when there is only one family
SHADES = (-0.35, 0.45)  # darkest (mixed with black) and lightest (mixed with white) shade
MAX_SHADES = 3  # shades of one hue a reader tells apart
MARKERS = ("s", "^", "D", "v", "P", "X", "*", "p")  # after the first of a colour; "o": a dot


def hue(index: int) -> Color:
    """The index-th distinct hue; beyond the palette they repeat."""
    return to_rgb(HUES[index % len(HUES)])


def shade(color: Color, amount: float) -> Color:
    """Negative amounts mix in black, positive ones white."""
    rgb = np.array(color)
    mixed = rgb * (1 + amount) if amount < 0 else rgb + (1 - rgb) * amount
    return tuple(float(c) for c in mixed)  # type: ignore[return-value]


def palette(labels: Iterable[str], families: Mapping[str, str] | None = None) -> dict[str, Color]:
    """Colours of the group labels (in the order given), and of the family names.

    Without `families` every group gets its own hue. With it (label -> family name) each
    family gets a hue and its groups shades of it; when all groups are of one family, the
    groups get hues of their own and the family the neutral grey.
    """
    unique = list(dict.fromkeys(labels))
    family_of = {label: (families or {}).get(label, label) for label in unique}
    members: dict[str, list[str]] = {}
    for label in unique:
        members.setdefault(family_of[label], []).append(label)
    if len(members) == 1 and len(unique) > 1:
        own = {label: hue(i) for i, label in enumerate(unique)}
        return {**own, **dict.fromkeys(members, NEUTRAL)}
    colors: dict[str, Color] = {}
    for i, (family, labels_of_family) in enumerate(members.items()):
        colors[family] = hue(i)
        if len(labels_of_family) == 1:
            colors[labels_of_family[0]] = hue(i)
            continue
        n = len(labels_of_family)
        amounts = np.linspace(*SHADES, min(n, MAX_SHADES))
        for position, label in enumerate(labels_of_family):  # neighbours share a shade
            colors[label] = shade(hue(i), float(amounts[position * len(amounts) // n]))
    return colors


def group_markers(colors: Mapping[str, Color], labels: Iterable[str]) -> dict[str, str | None]:
    """The marker of each group's line: none for the first group of a colour, then one of
    MARKERS for each further group of that colour (in the order given)."""
    taken: dict[Color, int] = {}
    markers: dict[str, str | None] = {}
    for label in dict.fromkeys(labels):
        color = group_color(colors, label)
        n = taken.get(color, 0)
        taken[color] = n + 1
        markers[label] = None if n == 0 else MARKERS[(n - 1) % len(MARKERS)]
    return markers


def group_color(colors: Mapping[str, Color], label: str) -> Color:
    """The colour of a group (or family) in a report's palette; grey for one it does not know."""
    return colors.get(label, NEUTRAL)


def _order(value: Any) -> tuple[int, float | str]:
    """Numbers before text, numbers by value: lr 1e-3 before 1e-2 before 1e37."""
    if value is MISSING:
        return (2, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


def report_palette(analysis: Analysis) -> dict[str, Color]:
    """One colour per group of the report, and one per optimizer family: families in the
    order of their settings (so Adam gets the same hue in two reports of the same optimizers),
    groups of a family from dark to light by their settings."""
    keys = analysis.grouping.group_keys
    groups = {g.label: g.group.settings for t in analysis.tasks for g in t.groups}
    ordered = sorted(groups, key=lambda name: [_order(groups[name].get(k, MISSING)) for k in keys])
    return palette(ordered, {label: family_label(groups[label], keys) for label in ordered})
