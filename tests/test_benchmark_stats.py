"""The benchmark's statistics against values computed by hand or by scipy: Dodge et al.'s expected
best of k trials and its bootstrap band, how failed/pruned trials count, the leader's permutation
test, the IQM and probability of improvement with stratified bootstrap intervals, and the
AlgoPerf score. Inputs are large and skewed enough that a 90% band, a one-sided p, a plain mean
for the IQM or a paired resampling give other values."""

from __future__ import annotations

import itertools
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from scipy.stats import permutation_test

from research.leaderboard import aggregate
from research.leaderboard.budget import (
    best_so_far_curve,
    bootstrap_curves,
    budget_curve,
    budgets_to_compare,
    estimates_at,
    expected_best,
    leader_at,
)
from research.leaderboard.load import clip_to_failure, trial_value
from research.report import stats


def test_expected_best_is_dodges_estimator_with_replacement() -> None:
    # v = 1, 2, 3: best of 2 draws with replacement is 3 unless both miss it (4/9), then 2
    # unless both are 1 (1/9): 1/9 * 1 + 3/9 * 2 + 5/9 * 3 = 22/9.
    curve = expected_best([3.0, 1.0, 2.0], 3, higher_is_better=True)
    assert curve == pytest.approx([2.0, 22 / 9, 1 / 27 + 2 * 7 / 27 + 3 * 19 / 27])
    # minimised: the best of 2 is the smaller: 1/9 * 3 + 3/9 * 2 + 5/9 * 1 = 14/9
    assert expected_best([3.0, 1.0, 2.0], 2, higher_is_better=False) == pytest.approx([2.0, 14 / 9])
    # beyond N draws the estimate keeps rising towards the maximum, never past it
    assert expected_best([0.0, 1.0], 10, True)[-1] == pytest.approx(1 - 0.5**10)


def test_budget_band_is_a_bootstrap_over_the_trials() -> None:
    same = budget_curve([0.7] * 5, 4, True)
    assert same.ci_low == pytest.approx([0.7] * 4) and same.ci_high == pytest.approx([0.7] * 4)
    # two trials 0 and 1, k = 1: resampled means are 0, 1/2, 1 (prob. 1/4, 1/2, 1/4), so the
    # 2.5-97.5% band is [0, 1]; k = 2 on the resample {0, 1} is 3/4, on {1, 1} is 1
    curve = budget_curve([0.0, 1.0], 2, True)
    assert (curve.ci_low[0], curve.ci_high[0]) == (0.0, 1.0)
    assert curve.expected_best == pytest.approx([0.5, 0.75])
    assert set(np.round(bootstrap_curves([0.0, 1.0], 2, True)[:, 1], 6)) == {0.0, 0.75, 1.0}
    # minimised: the best of 2 from {0, 1} is 1/4
    assert set(np.round(bootstrap_curves([0.0, 1.0], 2, False)[:, 1], 6)) == {0.0, 0.25, 1.0}


def test_budget_band_is_the_percentile_interval_of_the_bootstrap_curves() -> None:
    values = [0.2, 0.9, 0.35, 0.5, 0.1, 0.8, 0.3, 0.45]
    for higher_is_better in (True, False):
        curve = budget_curve(values, 6, higher_is_better)
        samples = bootstrap_curves(values, 6, higher_is_better)
        low, high = np.quantile(samples, [0.025, 0.975], axis=0)
        np.testing.assert_allclose(curve.ci_low, low, rtol=1e-12)
        np.testing.assert_allclose(curve.ci_high, high, rtol=1e-12)

    # seeded: the same band every time (values spread enough that another draw moves it)
    spread = np.random.default_rng(7).uniform(size=(30, 3))
    first, second = budget_curve(spread[:, 0], 6, True), budget_curve(spread[:, 0], 6, True)
    np.testing.assert_array_equal(first.ci_low, second.ci_low)
    first, second = best_so_far_curve(spread, 3, True), best_so_far_curve(spread, 3, True)
    np.testing.assert_array_equal(first.ci_low, second.ci_low)


def _exact_quantiles(outcomes: list[float], levels: list[float]) -> list[float]:
    """Quantiles of the discrete distribution of equally likely outcomes (no interpolation)."""
    ordered = np.sort(outcomes)
    return [float(ordered[math.ceil(q * ordered.size) - 1]) for q in levels]


def test_budget_band_is_the_95_percent_band_not_90() -> None:
    # k = 1 is the mean of 3 draws from (0, 0, 3): 0, 1, 2, 3 with probability 8, 12, 6, 1 / 27.
    # The top 2.5% is 3 (1/27 = 3.7% of resamples), the top 5% reaches into the 2s; mirrored for
    # a minimised metric: (0, 3, 3) has 0 with 3.7%.
    means = [float(np.mean(d)) for d in itertools.product([0.0, 0.0, 3.0], repeat=3)]
    assert _exact_quantiles(means, [0.975, 0.95]) == [3.0, 2.0]
    up = budget_curve([0.0, 0.0, 3.0], 3, higher_is_better=True)
    assert (up.ci_low[0], up.ci_high[0]) == (0.0, 3.0)
    down = budget_curve([0.0, 3.0, 3.0], 3, higher_is_better=False)
    assert (down.ci_low[0], down.ci_high[0]) == (0.0, 3.0)
    # k = 3 minimised on (0, 3, 3): 0 unless every draw is a 3 (8/27)
    assert down.expected_best[2] == pytest.approx(3 * 8 / 27)


def test_adaptive_samplers_get_the_best_so_far_averaged_over_studies() -> None:
    # best so far: study 1 -> 1, 3, 3; study 2 -> 2, 2, 4; study 3 ran 2 trials -> 0.5, 0.5
    curve = best_so_far_curve([[1.0, 3.0, 2.0], [2.0, 1.0, 4.0], [0.5, 0.1]], 3, True)
    assert curve.expected_best == pytest.approx([7 / 6, 11 / 6, 3.5])
    assert (curve.ci_low <= curve.expected_best).all()
    assert (curve.expected_best <= curve.ci_high).all()
    # k = 3 from studies ending at 3 and 4 (the third stopped early): resampled means 3, 3.5, 4
    # with 1/4, 1/2, 1/4, so the 95% band is [3, 4]; k = 1 from (1, 2, 0.5) spans 0.5 .. 2
    assert (curve.ci_low[2], curve.ci_high[2]) == (3.0, 4.0)
    assert (curve.ci_low[0], curve.ci_high[0]) == (0.5, 2.0)
    minimised = best_so_far_curve([[3.0, 1.0, 2.0]], 3, False)
    assert minimised.expected_best == pytest.approx([3.0, 1.0, 1.0])
    # a resample of only the study that stopped after one trial has no value at k = 2, 3: left
    # out of the band quietly, not averaged as NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        short = best_so_far_curve([[1.0, 3.0, 2.0], [0.5]], 3, True)
    assert short.expected_best == pytest.approx([0.75, 3.0, 3.0])
    assert (short.ci_low[0], short.ci_high[0], short.ci_low[2]) == (0.5, 1.0, 3.0)


def _trial(state: TrialState, value: float | None = None, **kw: object) -> object:
    return create_trial(
        state=state,
        value=value,
        params={"lr": 0.1},
        distributions={"lr": FloatDistribution(1e-3, 1.0)},
        **kw,
    )


def test_failed_pruned_and_killed_trials_count_as_documented() -> None:
    assert trial_value(_trial(TrialState.COMPLETE, 0.8), 0.1) == 0.8
    # pruned: the last value it reported
    pruned = _trial(TrialState.PRUNED, intermediate_values={0: 0.3, 1: 0.4})
    assert trial_value(pruned, 0.1) == 0.4
    # failed or diverged (recorded by the sweeper): a wasted draw at the failure value
    diverged = _trial(TrialState.FAIL, user_attrs={"fail_kind": "diverged"})
    assert trial_value(diverged, 0.1) == 0.1
    # killed (no verdict): does not count
    assert trial_value(_trial(TrialState.FAIL), 0.1) is None
    # a finite result worse than the failure value counts as a failure
    assert clip_to_failure(1e24, 220.0, higher_is_better=False) == 220.0
    assert clip_to_failure(math.nan, 0.1, higher_is_better=True) == 0.1
    assert clip_to_failure(90.0, 220.0, higher_is_better=False) == 90.0


def exact_permutation_p(x: list[float], y: list[float], k: int, higher_is_better: bool) -> float:
    """scipy's exact two-sided permutation p of the difference in expected best of k."""

    def gap(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        def best(v: np.ndarray) -> np.ndarray:
            return np.apply_along_axis(lambda r: expected_best(r, k, higher_is_better)[-1], axis, v)

        return best(a) - best(b)

    return float(
        permutation_test((x, y), gap, permutation_type="independent", n_resamples=np.inf).pvalue
    )


def test_leader_at_a_budget_and_its_permutation_p_value() -> None:
    a = budget_curve([0.5, 0.6, 0.9], 3, True)
    b = budget_curve([0.1, 0.2, 0.3], 3, True)
    lead = leader_at({"b": b, "a": a}, 1, True)
    assert (lead.winner, lead.runner_up) == ("a", "b")
    assert lead.difference == pytest.approx(2 / 3 - 0.2)
    # 20 ways to split the six trials in two groups of three; only the observed split and its
    # mirror are as extreme: 2 / 20, never 0 (pairing trial i with trial i, as the bootstrap
    # with shared indices did, gave 0)
    assert lead.p_value == pytest.approx(0.1)
    tie = leader_at({"x": a, "y": budget_curve([0.5, 0.6, 0.9], 3, True)}, 2, True)
    assert tie.p_value == 1.0
    assert budgets_to_compare(20) == [1, 5, 20] and budgets_to_compare(1) == [1]
    assert budgets_to_compare(100) == [1, 10, 100] and budgets_to_compare(4) == [1, 2, 4]


def test_the_leader_test_is_scipys_exact_permutation_test() -> None:
    # the fast tier's CNN studies (K = 4, validation accuracy): 70 splits, p = 4/70 at every k
    adam, sgd = [0.1917, 0.2, 0.1917, 0.1333], [0.1167, 0.175, 0.1167, 0.1167]
    curves = {"adam": budget_curve(adam, 4, True), "sgd": budget_curve(sgd, 4, True)}
    for k in (1, 2, 4):
        lead = leader_at(curves, k, True)
        assert lead.winner == "adam"
        assert lead.p_value == pytest.approx(4 / 70)
        assert lead.p_value == pytest.approx(exact_permutation_p(adam, sgd, k, True))
    # minimised, unequal sizes, skewed: the runner-up's lone good trial matters at large k
    x, y = [3.0, 2.5, 2.8, 9.0, 2.9], [1.0, 8.0, 7.5, 9.5]
    curves = {"x": budget_curve(x, 4, False), "y": budget_curve(y, 4, False)}
    for k in (1, 2, 4):
        lead = leader_at(curves, k, False)
        ordered = [lead.winner, lead.runner_up]
        values = {"x": x, "y": y}
        assert lead.p_value == pytest.approx(
            exact_permutation_p(values[ordered[0]], values[ordered[1]], k, False)
        )
        assert lead.p_value < 1.0


def test_estimates_at_k_from_rows_of_units() -> None:
    rows = np.array([[3.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    for higher_is_better in (True, False):
        expected = [expected_best(r, 2, higher_is_better)[1] for r in rows]
        assert estimates_at(rows, 2, higher_is_better, adaptive=False) == pytest.approx(expected)
    # adaptive: each row holds studies' best-so-far at k, averaged
    assert estimates_at(rows, 2, True, adaptive=True) == pytest.approx([2.0, 1.0])


def test_leader_depends_on_k_not_on_names() -> None:
    # steady 0.5s lead at k = 1; (0, 0, 1) leads from k = 2 on: 1 - (2/3)^2 = 0.556
    curves = {"a": budget_curve([0.0, 0.0, 1.0], 3, True), "z": budget_curve([0.5] * 3, 3, True)}
    assert [leader_at(curves, k, True).winner for k in (1, 2, 3)] == ["z", "a", "a"]
    lead = leader_at(curves, 1, True)
    assert lead.runner_up == "a" and lead.difference == pytest.approx(0.5 - 1 / 3)
    assert lead.p_value == pytest.approx(exact_permutation_p([0.5] * 3, [0.0, 0.0, 1.0], 1, True))
    alone = leader_at({"a": curves["a"]}, 2, True)
    assert (alone.winner, alone.runner_up, alone.p_value) == ("a", None, None)
    assert math.isnan(alone.difference)
    # maximised, overlapping and skewed, at k = 3: p from the maximising estimator
    x, y = [0.9, 0.1, 0.2, 0.15, 0.3], [0.5, 0.55, 0.45, 0.6]
    curves = {"x": budget_curve(x, 4, True), "y": budget_curve(y, 4, True)}
    for k in (2, 3, 4):
        lead = leader_at(curves, k, True)
        values = {"x": x, "y": y}
        exact = exact_permutation_p(values[lead.winner], values[lead.runner_up], k, True)
        assert lead.p_value == pytest.approx(exact)
        assert exact != pytest.approx(
            exact_permutation_p(values[lead.winner], values[lead.runner_up], k, False)
        )


def test_adaptive_leader_permutes_whole_studies() -> None:
    # best so far after k = 2: a's studies (0.9, 0.8, 0.85), b's (0.5, 0.55, 0.4, 0.45); the
    # mean difference is tested over the 35 splits of the 7 studies: only the observed one is
    # as extreme in either tail, so p = 2/35
    a = best_so_far_curve([[0.9, 0.1], [0.2, 0.8], [0.85, 0.3]], 2, True)
    b = best_so_far_curve([[0.5, 0.1], [0.55, 0.2], [0.4, 0.3], [0.1, 0.45]], 2, True)
    lead = leader_at({"a": a, "b": b}, 2, True)
    assert lead.winner == "a"
    assert lead.difference == pytest.approx(0.85 - 0.475)
    assert lead.p_value == pytest.approx(2 / 35)
    # overlapping studies: the mean of the studies' best-so-far, as scipy tests it
    x = best_so_far_curve([[0.9, 0.1], [0.2, 0.3], [0.1, 0.4]], 2, True)
    y = best_so_far_curve([[0.5, 0.1], [0.55, 0.2], [0.2, 0.45], [0.3, 0.35]], 2, True)
    lead = leader_at({"x": x, "y": y}, 2, True)
    exact = permutation_test(
        ([0.9, 0.3, 0.4], [0.5, 0.55, 0.45, 0.35]), _mean_gap, permutation_type="independent"
    )
    assert lead.winner == "x" and lead.p_value == pytest.approx(exact.pvalue)
    assert 0.1 < exact.pvalue < 1.0
    # studies' best-so-far after k = 2 and 3, tested by their mean (Dodge's estimator on them
    # would give 0.743 and 0.571)
    x = best_so_far_curve([[0.54, 0.44, 0.93], [0.04, 0.73, 0.61], [0.03, 0.72, 0.02]], 3, True)
    y = best_so_far_curve(
        [[0.76, 0.51, 0.93], [0.07, 0.84, 0.07], [0.34, 0.43, 0.97], [0.56, 0.26, 0.24]], 3, True
    )
    at_2, at_3 = leader_at({"x": x, "y": y}, 2, True), leader_at({"x": x, "y": y}, 3, True)
    assert (at_2.winner, at_3.winner) == ("x", "y")
    assert at_2.p_value == pytest.approx(1.0)
    exact = permutation_test(
        ([0.93, 0.84, 0.97, 0.56], [0.93, 0.73, 0.72]), _mean_gap, permutation_type="independent"
    )
    assert at_3.p_value == pytest.approx(exact.pvalue) == pytest.approx(6 / 7)
    # a study that never reached k = 2 leaves b without a value there: ranked last, untested
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        short = best_so_far_curve([[0.99]], 2, True)
        lead = leader_at({"short": short, "a": a}, 2, True)
    assert (lead.winner, lead.runner_up, lead.p_value) == ("a", "short", None)
    assert math.isnan(lead.difference)


def _mean_gap(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def test_permutation_p_exact_monte_carlo_and_never_zero() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.0, 1.0, 8), rng.lognormal(-0.5, 1.0, 8)
    exact = permutation_test((x, y), _mean_gap, permutation_type="independent", n_resamples=np.inf)
    # 12,870 splits: more than 10,000, so Monte Carlo; standard error about 0.003 here
    assert 0.05 < exact.pvalue < 0.5
    assert stats.permutation_p(x, y, _mean_gap) == pytest.approx(exact.pvalue, abs=0.015)
    # as many resamples as splits (70): exact, the same value as scipy's, 6/70; one fewer: not
    small_x, small_y = x[:4], y[:4]
    exact_small = permutation_test(
        (small_x, small_y), _mean_gap, permutation_type="independent", n_resamples=np.inf
    )
    assert exact_small.pvalue == pytest.approx(6 / 70)
    assert stats.permutation_p(small_x, small_y, _mean_gap, n_resamples=70) == pytest.approx(6 / 70)
    assert stats.permutation_p(small_x, small_y, _mean_gap, n_resamples=69) != pytest.approx(6 / 70)
    # fully separated samples of 15: no random split is as extreme as the observed one, so
    # p = 2 (1 + 0) / (999 + 1), not 0
    low, high = np.arange(15.0), 100 + np.arange(15.0)
    assert stats.permutation_p(high, low, _mean_gap, n_resamples=999) == pytest.approx(0.002)
    assert stats.permutation_p(low, high, _mean_gap, n_resamples=999) == pytest.approx(0.002)
    # seeded: the same Monte Carlo p every time (another draw moves p by about 0.005)
    for a, b in ((x, y), (x, y[::-1] - 0.3)):
        assert stats.permutation_p(a, b, _mean_gap) == stats.permutation_p(a, b, _mean_gap)


def test_permutation_p_counts_rounding_ties_as_ties() -> None:
    # mean differences equal in exact arithmetic differ in the last bit here: counted as equal
    # (as scipy does) the p-value is 0.8, counted literally it would be 0.6
    x, y = [0.6, 0.2, 0.3], [0.6, 0.1, 0.2]
    expected = permutation_test((x, y), _mean_gap, permutation_type="independent").pvalue
    assert expected == pytest.approx(0.8)
    assert stats.permutation_p(x, y, _mean_gap) == pytest.approx(0.8)
    assert stats.permutation_p(y, x, _mean_gap) == pytest.approx(0.8)
    # the tolerance is relative to the statistic: here about -53, ties at 0.4 (not 0.2)
    x, y = [0.4 * 100, 0.2 * 100, 0.2 * 100], [1.1 * 100, 1.1 * 100, 0.2 * 100]
    expected = permutation_test((x, y), _mean_gap, permutation_type="independent").pvalue
    assert expected == pytest.approx(0.4)
    assert stats.permutation_p(x, y, _mean_gap) == pytest.approx(0.4)


def test_iqm_and_probability_of_improvement_by_hand() -> None:
    # 8 runs 1..8 on one workload: the middle four are 3, 4, 5, 6
    assert aggregate.iqm(np.arange(1.0, 9.0)[:, None]) == pytest.approx(4.5)
    # skewed: seven 0s and a 10: the middle four are 0 (the mean would be 1.25)
    assert aggregate.iqm(np.array([0.0] * 7 + [10.0])[:, None]) == 0.0
    # across workloads the runs are pooled: (2 x 4) -> 0, 0, 0, 1, 2, 4, 9, 30 -> 0, 1, 2, 4
    pooled = np.array([[0.0, 1.0, 2.0, 30.0], [0.0, 0.0, 4.0, 9.0]]).T
    assert aggregate.iqm(pooled) == pytest.approx(7 / 4)
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    y = np.array([[2.0, 5.0], [2.0, 4.0]])
    # workload 1: 2 of 4 pairs x > y; workload 2: 2 wins, 2 ties -> 3/4; mean 5/8
    assert aggregate.probability_of_improvement(x, y) == pytest.approx(0.625)
    assert aggregate.probability_of_improvement(y, x) == pytest.approx(0.375)


def test_stratified_bootstrap_resamples_within_each_workload() -> None:
    # each workload's runs are constant: any stratified resample has the same IQM, an
    # unstratified one would mix 0s and 1s and spread
    scores = np.array([[0.0, 1.0]] * 6)
    interval = aggregate.iqm_interval(scores)
    assert (interval.estimate, interval.low, interval.high) == (0.5, 0.5, 0.5)
    rng = np.random.default_rng(0)
    varied = np.column_stack([np.arange(10.0), 100 + np.arange(10.0)])
    sample = aggregate.stratified_resample(varied, rng)
    assert (sample[:, 0] < 10).all() and (sample[:, 1] >= 100).all()
    spread = aggregate.iqm_interval(np.arange(20.0).reshape(10, 2))
    assert spread.low < spread.estimate < spread.high
    assert aggregate.normalise(np.array([220.0, 90.0, 155.0]), 220.0, 90.0) == pytest.approx(
        [0.0, 1.0, 0.5]
    )
    assert aggregate.normalise(np.array([0.1, 0.55, 1.0]), 0.1, 1.0) == pytest.approx([0, 0.5, 1])
    assert list(aggregate.normalise(np.array([3.0, 5.0]), 4.0, 4.0)) == [0.0, 0.0]


def test_aggregate_intervals_are_95_percent_and_resample_both_sides() -> None:
    # the percentile interval of 0, 0.001, ..., 1 is [0.025, 0.975] (90% would be [0.05, 0.95])
    interval = aggregate._interval(0.5, list(np.linspace(0.0, 1.0, 1001)))
    assert (interval.low, interval.high) == pytest.approx((0.025, 0.975))
    # IQM of (0, 0, 0, 0, 0.1, 0.3): resampled, its exact 97.5% quantile is 0.175 (the 95% one
    # 0.15); by enumeration of all 6^6 resamples
    draws = np.array(list(itertools.product([0.0, 0.0, 0.0, 0.0, 0.1, 0.3], repeat=6)))
    trimmed = np.sort(draws, axis=1)[:, 1:-1].mean(axis=1)
    assert _exact_quantiles(list(trimmed), [0.975, 0.95]) == pytest.approx([0.175, 0.15])
    spread = aggregate.iqm_interval(np.array([[0.0, 0.0, 0.0, 0.0, 0.1, 0.3]]).T)
    assert (spread.estimate, spread.low, spread.high) == pytest.approx((0.025, 0.0, 0.175))
    # P(X > Y) with Y's runs 0 and 2 and X's both 1: 1/2; Y resampled gives 1 (both 0s, 1/4),
    # 1/2 or 0 (both 2s, 1/4), so the band is [0, 1]
    both = aggregate.improvement_interval(np.array([[1.0], [1.0]]), np.array([[0.0], [2.0]]))
    assert (both.estimate, both.low, both.high) == (0.5, 0.0, 1.0)
    flipped = aggregate.improvement_interval(np.array([[0.0], [2.0]]), np.array([[1.0], [1.0]]))
    assert (flipped.estimate, flipped.low, flipped.high) == (0.5, 0.0, 1.0)
    # seeded: the same intervals every time (scores spread enough that another draw moves them)
    scores, other = np.random.default_rng(7).uniform(size=(2, 40, 2))
    assert aggregate.iqm_interval(scores) == aggregate.iqm_interval(scores)
    assert aggregate.improvement_interval(scores, other) == aggregate.improvement_interval(
        scores, other
    )


def test_performance_profile_and_algoperf_score_by_hand() -> None:
    times = {"w1": {"a": 10.0, "b": 20.0}, "w2": {"a": None, "b": 5.0}}
    ratios = stats.profile_ratios(times, ["a", "b"])
    assert list(ratios["a"]) == [1.0, math.inf] and list(ratios["b"]) == [2.0, 1.0]
    taus = np.array([1.0, 1.5, 2.0, 4.0])
    assert list(stats.performance_profile(ratios["b"], taus)) == [0.5, 0.5, 1.0, 1.0]
    # area up to tau = 4 over 3: a = (3 + 0) / 2 / 3, b = (2 + 3) / 2 / 3
    assert stats.algoperf_score(ratios["a"]) == pytest.approx(0.5)
    assert stats.algoperf_score(ratios["b"]) == pytest.approx(5 / 6)


def test_the_tuned_vs_default_figure_names_the_runs_it_draws_at_the_failure_value(
    tmp_path: Path,
) -> None:
    """Results worse than the failure value sit on its dashed line: the panel says which."""
    from research.config.benchmark_files import Workload
    from research.leaderboard.analysis import Analysis
    from research.leaderboard.figures import tuned_vs_default
    from research.leaderboard.load import Benchmark, FinalRun
    from research.report.figures import palette

    quadratic = Workload("quadratic", "val/loss", "test/loss", False, 220.0, None)
    tests = {("sgd", "default"): (3.2e6, math.nan)}

    def final(o: str, v: str, seed: int, test: float) -> FinalRun:
        status = "completed" if math.isfinite(test) else "diverged"
        return FinalRun("quadratic", o, v, seed, status, 1.0, test, [], [], 10, 1.0, tmp_path)

    finals = [
        final(o, v, seed, test)
        for o in ("sgd", "adam")
        for v in ("tuned", "default")
        for seed, test in enumerate(tests.get((o, v), (1.5, 2.5)))
    ]
    bench = Benchmark("b", tmp_path, 3, [0, 1], [quadratic], ["sgd", "adam"], finals=finals)
    fig = tuned_vs_default(Analysis(bench, {}, {}, {}, {}), palette(bench.optimizers))
    assert fig.axes[0].get_title() == (
        "quadratic\n2 run(s) worse than 220 drawn on the dashed line: "
        "sgd default seed 0 (3.2e+06), sgd default seed 1 (diverged)"
    )
    assert "failure value" in [t.get_text() for t in fig.legends[0].get_texts()]


@pytest.mark.parametrize("count", [3, 15])
def test_budget_curves_show_bands_while_a_reader_can_tell_them_apart(count: int) -> None:
    """Up to five optimizers a panel shows each curve's band; fifteen bands hide the curves.
    Fifteen optimizers repeat a colour of the palette: the repeat carries a marker."""
    from research.config.benchmark_files import Workload
    from research.leaderboard.analysis import Analysis
    from research.leaderboard.budget import budget_curve
    from research.leaderboard.figures import budget_curves
    from research.leaderboard.load import Benchmark
    from research.report.figures import palette

    names = [f"opt{i}" for i in range(count)]
    workload = Workload("cls", "val/acc", "test/acc", True, 0.1, None)
    bench = Benchmark("b", Path("."), 4, [0], [workload], names)
    curves = {("cls", o): budget_curve([0.2, 0.4, 0.3, 0.5 + i / 100], 4, True)
              for i, o in enumerate(names)}  # fmt: skip
    fig = budget_curves(Analysis(bench, curves, {}, {}, {}), palette(names))
    ax = fig.axes[0]
    assert len(ax.lines) == count and len(ax.collections) == (count if count <= 5 else 0)
    colors = [line.get_color() for line in ax.lines]
    repeated = [line for i, line in enumerate(ax.lines) if line.get_color() in colors[:i]]
    assert all(line.get_marker() not in ("None", None, "") for line in repeated)
    assert len(repeated) == max(0, count - 14)
    assert len(fig.legends[0].get_texts()) == count
