"""The statistics of a comparison over seeds, each checked in tests against hand-computed values.

Conventions (stated in every report):
- std is the sample standard deviation (ddof=1);
- 95% intervals are bootstrap percentile intervals of the mean, with `RESAMPLES` resamples drawn
  from a generator seeded with `SEED` (curves use `CURVE_RESAMPLES`, the same construction);
- the best group's lead is tested with Welch's two-sided t-test against the runner-up, at
  `ALPHA`;
- two independent samples are compared by a permutation test (`permutation_p`): exact over all
  splits of the pooled values when there are at most `RESAMPLES`, else `RESAMPLES` random
  splits with the observed one counted, so that p is never 0;
- steps-to-target is right-censored: a run that never reaches the target counts as "not
  reached" (infinite), never as its last step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
ALPHA = 0.05
RESAMPLES = 10_000
CURVE_RESAMPLES = 1_000
SEED = 0
ALGOPERF_TAU_MAX = 4.0


@dataclass(frozen=True)
class Summary:
    """Mean, sample std and bootstrap CI of the finite values of one group."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Welch:
    """Welch's unequal-variance t-test of mean(a) - mean(b)."""

    t: float
    df: float
    p: float


def finite(values: Sequence[float | None] | np.ndarray) -> np.ndarray:
    """The values that can be averaged: None, NaN and infinities are left out."""
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    return array[np.isfinite(array)]


def bootstrap_means(data: np.ndarray, n_resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """Bootstrap distribution of the column means of `data` (runs x points, NaN = missing).

    Each resample draws n runs with replacement; as counts per run, all points of a curve share
    the same resampled runs and the cost is one matrix product, not a loop over points.
    """
    n = data.shape[0]
    draws = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    flat = (draws + n * np.arange(n_resamples)[:, None]).ravel()
    counts = np.bincount(flat, minlength=n_resamples * n).reshape(n_resamples, n).astype(float)
    present = np.isfinite(data)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ np.where(present, data, 0.0)) / (counts @ present)


def percentile_interval(
    samples: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - confidence) / 2.0
    quantile = np.nanquantile if np.isnan(samples).any() else np.quantile
    low, high = quantile(samples, [tail, 1.0 - tail], axis=0)
    return low, high


def bootstrap_ci(
    values: Sequence[float | None] | np.ndarray,
    confidence: float = CONFIDENCE,
    n_resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean; NaN for fewer than two values (no spread to use)."""
    x = finite(values)
    if x.size < 2:
        return math.nan, math.nan
    low, high = percentile_interval(bootstrap_means(x[:, None], n_resamples, seed), confidence)
    return float(low[0]), float(high[0])


def t_ci(
    values: Sequence[float | None] | np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Student-t CI of the mean: mean +- t_{(1+c)/2, n-1} * s / sqrt(n)."""
    from scipy.stats import t

    x = finite(values)
    if x.size < 2:
        return math.nan, math.nan
    half = t.ppf((1.0 + confidence) / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean() - half), float(x.mean() + half)


def summarize(values: Sequence[float | None] | np.ndarray) -> Summary:
    x = finite(values)
    if x.size == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1)) if x.size > 1 else math.nan
    return Summary(x.size, float(x.mean()), std, *bootstrap_ci(x))


def welch_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> Welch | None:
    """Two-sided Welch t-test; None when either side has fewer than two values."""
    from scipy.stats import t as student_t

    x, y = finite(a), finite(b)
    if x.size < 2 or y.size < 2:
        return None
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    diff = float(x.mean() - y.mean())
    if va + vb == 0.0:
        # No spread at all: the difference is certain (or there is none).
        return Welch(math.copysign(math.inf, diff) if diff else 0.0, math.nan, 0.0 if diff else 1.0)
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    return Welch(t, float(df), float(2.0 * student_t.sf(abs(t), df)))


def _splits(n: int, m: int, n_resamples: int, seed: int) -> tuple[np.ndarray, bool]:
    """Orders of the n pooled values (splits x n), the first m of each going to the first
    sample: every split once when there are at most `n_resamples`, else random ones."""
    if math.comb(n, m) <= n_resamples:
        everyone = set(range(n))
        rows = [[*c, *sorted(everyone - set(c))] for c in itertools.combinations(range(n), m)]
        return np.array(rows, dtype=int), True
    orders = np.tile(np.arange(n), (n_resamples, 1))
    return np.random.default_rng(seed).permuted(orders, axis=1), False


def permutation_p(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n_resamples: int = RESAMPLES,
    seed: int = SEED,
) -> float:
    """Two-sided permutation p-value of `statistic` for two independent samples, as
    `scipy.stats.permutation_test` computes it: twice the smaller tail (at most 1), values within
    100 machine epsilons of the observed one counting as equal; exact over all C(n, len(x))
    splits when there are at most `n_resamples`, else (hits + 1) / (n_resamples + 1) over random
    splits (Phipson & Smyth 2010). `statistic(xs, ys)` maps rows of samples to one value a row.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pooled = np.concatenate([x, y])
    orders, exact = _splits(pooled.size, x.size, n_resamples, seed)
    observed = float(statistic(x[None, :], y[None, :])[0])
    shuffled = pooled[orders]
    null = statistic(shuffled[:, : x.size], shuffled[:, x.size :])
    gamma = abs(np.finfo(float).eps * 100 * observed)
    adjustment = 0 if exact else 1
    below = np.count_nonzero(null <= observed + gamma) + adjustment
    above = np.count_nonzero(null >= observed - gamma) + adjustment
    return float(min(1.0, 2.0 * min(below, above) / (null.size + adjustment)))


def first_reach(
    steps: np.ndarray, values: np.ndarray, target: float, higher_is_better: bool
) -> float | None:
    """The first step whose value reaches the target (DeepOBS "speed"); None if never."""
    reached = values >= target if higher_is_better else values <= target
    hits = np.flatnonzero(reached)
    return float(steps[hits[0]]) if hits.size else None


def censored_median(times: Sequence[float | None]) -> float | None:
    """Median with never-reached runs as +inf: finite only when more than half reached."""
    if not times:
        return None
    median = float(np.median([math.inf if t is None else t for t in times]))
    return median if math.isfinite(median) else None


def profile_ratios(
    times: Mapping[str, Mapping[str, float | None]], methods: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per method, the ratio of its time-to-target to the best method's on each task.

    `times[task][method]` is a step count (>= 1), None (or absent) when the method did not reach
    the target there; its ratio is then +inf, as is every ratio on a task where nobody reached it.
    """
    ratios = {m: np.full(len(times), math.inf) for m in methods}
    for i, per_method in enumerate(times.values()):
        reached = [t for t in per_method.values() if t is not None and math.isfinite(t)]
        if not reached:
            continue
        best = min(reached)
        for method in methods:
            time = per_method.get(method)
            if time is not None and math.isfinite(time):
                ratios[method][i] = time / best
    return ratios


def performance_profile(ratios: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Dolan-More rho(tau): the fraction of tasks whose ratio is <= tau."""
    if ratios.size == 0:
        return np.zeros_like(taus, dtype=float)
    return (ratios[None, :] <= taus[:, None]).mean(axis=1)


def algoperf_score(ratios: np.ndarray, tau_max: float = ALGOPERF_TAU_MAX) -> float:
    """AlgoPerf's benchmark score: the area under rho(tau) on [1, tau_max] over (tau_max - 1).

    For a step function the integral is exact: each task contributes max(0, tau_max - r).
    """
    if ratios.size == 0:
        return math.nan
    area = np.where(ratios <= tau_max, tau_max - np.maximum(ratios, 1.0), 0.0)
    return float(area.mean() / (tau_max - 1.0))
