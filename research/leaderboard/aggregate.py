"""Aggregates across workloads with stratified bootstrap intervals (Agarwal et al., 2021), as
the `rliable` package computes them: the interquartile mean of normalised scores and the
probability of improvement.

Scores are (runs x workloads) arrays; the stratified bootstrap resamples the runs of each
workload (column) separately, with replacement, `RESAMPLES` times from a generator seeded
with `SEED`, and the interval is the percentile interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import trim_mean

RESAMPLES = 2_000
SEED = 0
CONFIDENCE = 0.95


def iqm(scores: np.ndarray) -> float:
    """The mean of the middle 50% of all runs on all workloads (25% cut from each end)."""
    return float(trim_mean(np.asarray(scores, dtype=float), 0.25, axis=None))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y), ties counting one half, per workload (the Mann-Whitney U over n*m), averaged
    over the workloads: X's and Y's runs are columns of the same workloads."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    per_workload = [
        np.mean((x[:, j, None] > y[None, :, j]) + 0.5 * (x[:, j, None] == y[None, :, j]))
        for j in range(x.shape[1])
    ]
    return float(np.mean(per_workload))


def stratified_resample(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    runs, workloads = scores.shape
    rows = rng.integers(0, runs, size=(runs, workloads))
    return scores[rows, np.arange(workloads)]


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def _interval(estimate: float, samples: list[float]) -> Interval:
    tail = (1.0 - CONFIDENCE) / 2.0
    low, high = np.quantile(samples, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high))


def iqm_interval(scores: np.ndarray, n_resamples: int = RESAMPLES, seed: int = SEED) -> Interval:
    scores = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    samples = [iqm(stratified_resample(scores, rng)) for _ in range(n_resamples)]
    return _interval(iqm(scores), samples)


def improvement_interval(
    x: np.ndarray, y: np.ndarray, n_resamples: int = RESAMPLES, seed: int = SEED
) -> Interval:
    """P(X > Y) with both sides resampled per workload."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    samples = [
        probability_of_improvement(stratified_resample(x, rng), stratified_resample(y, rng))
        for _ in range(n_resamples)
    ]
    return _interval(probability_of_improvement(x, y), samples)


def normalise(values: np.ndarray, worst: float, best: float) -> np.ndarray:
    """(v - worst) / (best - worst): 0 at `worst`, 1 at `best`, for a maximised and a
    minimised metric alike."""
    span = best - worst
    return np.zeros_like(values, dtype=float) if span == 0 else (values - worst) / span
