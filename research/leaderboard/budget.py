"""Expected best validation result after k tuning trials (Dodge et al., 2019), with a bootstrap
band, and the test of which optimizer leads at a given budget (Sivaprasad et al., 2020).

Conventions (stated in the report):
- the estimator draws k trials *with replacement* from the N observed ones: with values sorted
  worst to best, v(1) .. v(N), E[best of k] = sum_i v(i) * ((i/N)^k - ((i-1)/N)^k);
- a trial that failed or diverged counts with the workload's `failure_value` (a wasted draw);
  a pruned trial with the last value it reported; a killed trial (not counted by the sweeper)
  is left out;
- the band is the 2.5-97.5% percentile interval of the estimator over `RESAMPLES` bootstrap
  resamples of the N trial values (seed `SEED`);
- with an adaptive sampler (trials are not independent draws) the curve is instead the
  best-so-far after k trials averaged over repeated studies, the band a bootstrap over studies;
- the leader at budget k is tested against the runner-up by a permutation test of their
  difference at k (`stats.permutation_p`): the two optimizers' studies are independent, so their
  trials (adaptive samplers: their studies) are pooled and split again, never paired.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from research.report import stats

RESAMPLES = 2_000
SEED = 0


def dodge_weights(n: int, budget: int) -> np.ndarray:
    """(budget x n): row k-1 holds the chance that the i-th smallest value is the best of k."""
    i = np.arange(1, n + 1)
    k = np.arange(1, budget + 1)[:, None]
    return (i / n) ** k - ((i - 1) / n) ** k


def expected_best(values: Sequence[float], budget: int, higher_is_better: bool) -> np.ndarray:
    """E[best of k draws with replacement], k = 1..budget, from the observed values."""
    sign = 1.0 if higher_is_better else -1.0
    ordered = np.sort(sign * np.asarray(values, dtype=float))
    return sign * (dodge_weights(ordered.size, budget) @ ordered)


def bootstrap_curves(
    values: Sequence[float],
    budget: int,
    higher_is_better: bool,
    n_resamples: int = RESAMPLES,
    seed: int = SEED,
) -> np.ndarray:
    """(n_resamples x budget): the estimator on resamples of the trial values."""
    sign = 1.0 if higher_is_better else -1.0
    x = sign * np.asarray(values, dtype=float)
    draws = np.random.default_rng(seed).integers(0, x.size, size=(n_resamples, x.size))
    resampled = np.sort(x[draws], axis=1)
    return sign * (resampled @ dodge_weights(x.size, budget).T)


@dataclass(frozen=True)
class BudgetCurve:
    """One optimizer on one workload: the curve over k = 1..K, its band, and what it was
    estimated from, for the test between optimizers."""

    expected_best: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    observed: np.ndarray  # the N trial values, or (adaptive) studies x K best-so-far values
    adaptive: bool = False


def budget_curve(values: Sequence[float], budget: int, higher_is_better: bool) -> BudgetCurve:
    low, high = stats.percentile_interval(bootstrap_curves(values, budget, higher_is_better))
    estimate = expected_best(values, budget, higher_is_better)
    return BudgetCurve(estimate, low, high, np.asarray(values, dtype=float))


def best_so_far(values: Sequence[float], budget: int, higher_is_better: bool) -> np.ndarray:
    """The best value among the first k trials of one study, k = 1..budget (NaN past its end)."""
    sign = 1.0 if higher_is_better else -1.0
    running = sign * np.maximum.accumulate(sign * np.asarray(values[:budget], dtype=float))
    return np.concatenate([running, np.full(budget - running.size, np.nan)])


def best_so_far_curve(
    studies: Sequence[Sequence[float]],
    budget: int,
    higher_is_better: bool,
    n_resamples: int = RESAMPLES,
    seed: int = SEED,
) -> BudgetCurve:
    """For an adaptive sampler, whose trials are not independent draws: the best-so-far after
    k trials averaged over repeated studies, with a bootstrap band over the studies."""
    curves = np.stack([best_so_far(s, budget, higher_is_better) for s in studies])
    draws = np.random.default_rng(seed).integers(0, len(studies), size=(n_resamples, len(studies)))
    # a resample of only short (unfinished) studies, or a k no study reached: NaN, quietly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        samples = np.nanmean(curves[draws], axis=1)
        low, high = stats.percentile_interval(samples)
        estimate = np.nanmean(curves, axis=0)
    return BudgetCurve(estimate, low, high, curves, adaptive=True)


def budgets_to_compare(budget: int) -> list[int]:
    """k = 1, "a few" (the square root of K, rounded up: 5 of 20, 10 of 100) and K: the budgets
    the winner table reports."""
    return sorted({1, math.ceil(math.sqrt(budget)), budget})


@dataclass(frozen=True)
class Leader:
    winner: str
    runner_up: str | None
    difference: float  # winner - runner-up, in the better direction (>= 0)
    p_value: float | None


def units_at(curve: BudgetCurve, k: int) -> np.ndarray:
    """The independent observations behind the curve's value at k: the trial values, or
    (adaptive) the best-so-far after k of each study that ran k trials."""
    if not curve.adaptive:
        return curve.observed
    column = curve.observed[:, k - 1]
    return column[np.isfinite(column)]


def estimates_at(rows: np.ndarray, k: int, higher_is_better: bool, adaptive: bool) -> np.ndarray:
    """The curve's value at k computed from each row of units (splits x units)."""
    if adaptive:
        return rows.mean(axis=1)
    sign = 1.0 if higher_is_better else -1.0
    return sign * (np.sort(sign * rows, axis=1) @ dodge_weights(rows.shape[1], k)[k - 1])


def leader_at(curves: Mapping[str, BudgetCurve], k: int, higher_is_better: bool) -> Leader:
    """The optimizer with the best expected result after k trials, tested against the next (an
    adaptive sampler's curve without a study of k trials ranks last, untested)."""
    sign = 1.0 if higher_is_better else -1.0
    at_k = {name: curve.expected_best[k - 1] for name, curve in curves.items()}
    ranked = sorted(at_k, key=lambda name: (math.isnan(at_k[name]), -sign * at_k[name]))
    winner = ranked[0]
    if len(ranked) == 1:
        return Leader(winner, None, math.nan, None)
    second = ranked[1]
    difference = sign * (at_k[winner] - at_k[second])
    x, y = units_at(curves[winner], k), units_at(curves[second], k)
    adaptive = curves[winner].adaptive

    def gap(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        at = estimates_at(xs, k, higher_is_better, adaptive)
        return sign * (at - estimates_at(ys, k, higher_is_better, adaptive))

    p = stats.permutation_p(x, y, gap) if x.size and y.size else None
    return Leader(winner, second, float(difference), p)
