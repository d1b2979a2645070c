"""One exploding curve (a diverging run at 1e16) would flatten every other curve of its panel,
on a log axis too. The panel's range comes from the bulk of its curves instead; a curve far
above them is drawn clipped at a level just above the bulk, and the panel says which ones
were clipped, at what level, and how high they went."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GAP = 3.0  # clipped: a peak above the bulk's highest by more than GAP x the bulk's extent
HEADROOM = 0.1  # the clip level: this fraction of the bulk's extent above its highest peak


def clip_level(curves: Sequence[np.ndarray], log: bool) -> tuple[float, list[int]] | None:
    """The level to clip at and the indices of the curves clipped there (at most half of
    them, those whose peaks stand apart from the rest by the gap); None when none does. On a
    log axis (`log`: every value positive) the gap is counted in decades."""
    scale = np.log10 if log else np.asarray
    peaks, lows = [], []
    for curve in curves:
        finite = curve[np.isfinite(curve)]
        peaks.append(float(scale(finite.max())) if finite.size else -np.inf)
        lows.append(float(scale(finite.min())) if finite.size else np.inf)
    order = np.argsort(peaks)
    drawn = [i for i in order if np.isfinite(peaks[i])]
    bottom = min(lows)
    for position in range(max(1, len(drawn) - len(drawn) // 2), len(drawn)):
        below = peaks[drawn[position - 1]]
        extent = max(below - bottom, 1.0 if log else 0.1 * max(abs(below), abs(bottom)) or 1.0)
        if peaks[drawn[position]] - below > GAP * extent:
            level = below + HEADROOM * extent
            return float(10**level if log else level), [int(i) for i in drawn[position:]]
    return None
