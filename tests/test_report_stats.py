"""The report's statistics against values computed by hand (worked out in the comments)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats as scipy_stats

from research.report import stats
from research.report.analysis import curve_band
from research.report.discover import RunRef
from research.report.load import Run, Series


def test_summary_mean_and_sample_std() -> None:
    # mean(1, 2, 3, 4) = 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; 5 / (4 - 1).
    summary = stats.summarize([1.0, 2.0, 3.0, 4.0])
    assert summary.n == 4
    assert summary.mean == pytest.approx(2.5)
    assert summary.std == pytest.approx(math.sqrt(5 / 3))


def test_summary_leaves_out_missing_and_non_finite_values() -> None:
    summary = stats.summarize([1.0, None, math.nan, 3.0, math.inf])
    assert (summary.n, summary.mean) == (2, 2.0)


def test_single_value_has_no_spread_and_no_interval() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "degrees of freedom <= 0" on the way
        summary = stats.summarize([0.7])
    assert summary.mean == 0.7
    assert math.isnan(summary.std) and math.isnan(summary.ci_low) and math.isnan(summary.ci_high)
    # two values: s = sqrt(((1 - 2)^2 + (3 - 2)^2) / 1)
    assert stats.summarize([1.0, 3.0]).std == pytest.approx(math.sqrt(2))
    empty = stats.summarize([None, math.nan])
    assert empty.n == 0
    assert all(math.isnan(v) for v in (empty.mean, empty.std, empty.ci_low, empty.ci_high))


def test_bootstrap_of_two_values_spans_them() -> None:
    # Resample means of (a, b): a with p = 1/4, (a+b)/2 with 1/2, b with 1/4. The 2.5% and
    # 97.5% quantiles fall inside the a and b masses: the interval is exactly [a, b].
    assert stats.bootstrap_ci([0.91, 0.95]) == pytest.approx((0.91, 0.95))


def test_bootstrap_of_skewed_sample_matches_its_exact_distribution() -> None:
    # (0, 0, 3): the resample mean is k for k = number of 3s drawn, k ~ Binomial(3, 1/3):
    # P(0) = 8/27, P(1) = 12/27, P(2) = 6/27, P(3) = 1/27 = 3.7% > 2.5%. So the 2.5% quantile
    # is 0 and the 97.5% quantile is 3.
    assert stats.bootstrap_ci([0.0, 0.0, 3.0]) == pytest.approx((0.0, 3.0))
    # a 90% interval stops at the 95% quantile: 2 (P(3) = 3.7% < 5%)
    assert stats.bootstrap_ci([0.0, 0.0, 3.0], confidence=0.9) == pytest.approx((0.0, 2.0))


def test_percentile_interval_is_2_5_to_97_5_percent() -> None:
    samples = np.linspace(0.0, 1.0, 1001)[:, None]  # quantile q of 0, 0.001, ..., 1 is q
    low, high = stats.percentile_interval(samples)
    assert (low[0], high[0]) == pytest.approx((0.025, 0.975))
    low, high = stats.percentile_interval(samples, confidence=0.5)
    assert (low[0], high[0]) == pytest.approx((0.25, 0.75))
    # missing resamples (NaN) are left out, not propagated
    with_gaps = np.vstack([samples, [[np.nan]] * 50])
    low, high = stats.percentile_interval(with_gaps)
    assert (low[0], high[0]) == pytest.approx((0.025, 0.975))


def test_bootstrap_means_of_runs_with_missing_points() -> None:
    # column 2: run 0 has no value; a resample of run 0 alone has none: NaN, quietly
    data = np.array([[1.0, np.nan], [2.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        means = stats.bootstrap_means(data, n_resamples=200)
    assert set(np.unique(means[:, 0])) == {1.0, 1.5, 2.0}
    assert set(means[np.isfinite(means[:, 1]), 1]) == {3.0} and np.isnan(means[:, 1]).any()


def test_bootstrap_is_reproducible_and_seeded() -> None:
    values = [0.1, 0.4, 0.35, 0.8, 0.6]
    assert stats.bootstrap_ci(values) == stats.bootstrap_ci(values)
    assert stats.bootstrap_ci(values, seed=1) != stats.bootstrap_ci(values)
    # many distinct values: every seed gives other quantiles
    many = np.random.default_rng(0).normal(size=50)
    assert stats.bootstrap_ci(many) == stats.bootstrap_ci(many)
    assert stats.bootstrap_ci(many, seed=1) != stats.bootstrap_ci(many)


def test_bootstrap_interval_narrows_as_the_sample_grows() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.normal(size=5), rng.normal(size=500)
    width = [np.subtract(*stats.bootstrap_ci(x)[::-1]) for x in (small, large)]
    assert width[1] < width[0] / 3
    # For n = 500 the bootstrap interval is close to the normal one: mean +- 1.96 s / sqrt(n).
    low, high = stats.bootstrap_ci(large)
    half = 1.96 * large.std(ddof=1) / math.sqrt(500)
    assert low == pytest.approx(large.mean() - half, abs=0.02)
    assert high == pytest.approx(large.mean() + half, abs=0.02)


def test_t_interval() -> None:
    # (1, 2, 3, 4): s = sqrt(5/3) = 1.2909944, s / sqrt(4) = 0.6454972, t_{0.975, 3} = 3.1824463,
    # half width 3.1824463 * 0.6454972 = 2.0542603.
    low, high = stats.t_ci([1.0, 2.0, 3.0, 4.0])
    assert low == pytest.approx(2.5 - 2.0542603, abs=1e-6)
    assert high == pytest.approx(2.5 + 2.0542603, abs=1e-6)
    # (1, 3): s / sqrt(2) = 1, t_{0.975, 1} = 12.7062047; one value has no interval
    assert stats.t_ci([1.0, 3.0]) == pytest.approx((2 - 12.7062047, 2 + 12.7062047))
    assert all(math.isnan(v) for v in stats.t_ci([1.0]))


def test_welch_t_test() -> None:
    # a = (1, 2, 3): mean 2, var 1; b = (4, 6, 8): mean 6, var 4.
    # va = 1/3, vb = 4/3, t = (2 - 6) / sqrt(5/3) = -3.0983867;
    # df = (5/3)^2 / ((1/3)^2 / 2 + (4/3)^2 / 2) = (25/9) / (17/18) = 50/17 = 2.9411765.
    result = stats.welch_test([1.0, 2.0, 3.0], [4.0, 6.0, 8.0])
    assert result is not None
    assert result.t == pytest.approx(-3.0983867, abs=1e-6)
    assert result.df == pytest.approx(50 / 17)
    reference = scipy_stats.ttest_ind([1, 2, 3], [4, 6, 8], equal_var=False)
    assert result.p == pytest.approx(reference.pvalue)
    assert result.p == pytest.approx(2 * scipy_stats.t.sf(3.0983867, 50 / 17), rel=1e-6)
    # equal, nonzero variances: t = -3 / sqrt(2/3), df = 4
    same_spread = stats.welch_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert same_spread is not None and same_spread.df == pytest.approx(4.0)
    assert same_spread.p == pytest.approx(
        scipy_stats.ttest_ind([1, 2, 3], [4, 5, 6], equal_var=False).pvalue
    )


def test_welch_needs_two_values_per_side_and_handles_no_spread() -> None:
    assert stats.welch_test([1.0], [2.0, 3.0]) is None
    certain = stats.welch_test([1.0, 1.0], [2.0, 2.0])
    assert certain is not None and certain.p == 0.0 and certain.t == -math.inf
    assert math.isnan(certain.df)
    same = stats.welch_test([1.0, 1.0], [1.0, 1.0])
    assert same is not None and same.p == 1.0 and same.t == 0.0 and math.isnan(same.df)


def test_first_reach_in_both_directions() -> None:
    steps = np.array([10.0, 20.0, 30.0])
    assert stats.first_reach(steps, np.array([0.5, 0.8, 0.9]), 0.8, True) == 20.0
    assert stats.first_reach(steps, np.array([0.5, 0.8, 0.9]), 0.95, True) is None
    assert stats.first_reach(steps, np.array([1.0, 0.5, 0.2]), 0.5, False) == 20.0
    assert stats.first_reach(steps, np.array([np.nan, 0.9, 0.9]), 0.8, True) == 20.0


def test_censored_median() -> None:
    assert stats.censored_median([10.0, 20.0, None]) == 20.0  # (10, 20, inf)
    assert stats.censored_median([10.0, 20.0, 30.0, None]) == 25.0  # (20 + 30) / 2
    assert stats.censored_median([10.0, None, None]) is None  # most never reached
    assert stats.censored_median([10.0, 20.0, None, None]) is None  # (20 + inf) / 2
    assert stats.censored_median([]) is None


def test_performance_profile_and_algoperf_score() -> None:
    # Steps to target:     A    B    C
    #   fast on A, B    100  300  never
    #   other           200  150   50
    # Ratios: first (1, 2, inf), other (2, 1, 1).
    times = {
        "A": {"first": 100.0, "other": 200.0},
        "B": {"first": 300.0, "other": 150.0},
        "C": {"first": None, "other": 50.0},
    }
    ratios = stats.profile_ratios(times, ["first", "other"])
    np.testing.assert_allclose(ratios["first"], [1.0, 2.0, math.inf])
    np.testing.assert_allclose(ratios["other"], [2.0, 1.0, 1.0])
    taus = np.array([1.0, 1.5, 2.0, 10.0])
    rho_first = stats.performance_profile(ratios["first"], taus)
    np.testing.assert_allclose(rho_first, [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(
        stats.performance_profile(ratios["other"], taus), [2 / 3, 2 / 3, 1, 1]
    )
    # Score: mean over tasks of max(0, 4 - r) / (4 - 1): first (3+2+0) / 9, other (2+3+3) / 9.
    assert stats.algoperf_score(ratios["first"]) == pytest.approx(5 / 9)
    assert stats.algoperf_score(ratios["other"]) == pytest.approx(8 / 9)


def test_performance_profile_of_one_task_and_of_none() -> None:
    taus = np.array([1, 2, 4])
    one = stats.performance_profile(np.array([2.0]), taus)
    np.testing.assert_array_equal(one, [0.0, 1.0, 1.0])
    none = stats.performance_profile(np.array([]), taus)
    assert none.dtype == np.float64 and list(none) == [0.0, 0.0, 0.0]
    assert math.isnan(stats.algoperf_score(np.array([])))
    # one task: (4 - 2) / 3; a ratio of exactly tau_max adds nothing
    assert stats.algoperf_score(np.array([2.0])) == pytest.approx(2 / 3)
    assert stats.algoperf_score(np.array([4.0, 1.0])) == pytest.approx(0.5)


def test_profile_when_nobody_reaches_a_task() -> None:
    ratios = stats.profile_ratios({"A": {"x": None, "y": None}, "B": {"x": 10.0}}, ["x", "y"])
    np.testing.assert_allclose(ratios["x"], [math.inf, 1.0])
    np.testing.assert_allclose(ratios["y"], [math.inf, math.inf])


def _run(steps: list[float], values: list[float]) -> Run:
    series = Series(np.array(steps), np.arange(1.0, len(steps) + 1), np.array(values))
    return Run(
        RunRef(None),
        "completed",
        None,
        {},
        0,
        {},
        {},
        {"val/acc": series},
        {},
        frozenset({"val/acc"}),
    )


def test_curve_band_mean_and_interval_per_point() -> None:
    # Two runs: mean (2, 4); with two values per point the bootstrap interval is [min, max].
    band = curve_band([_run([10, 20], [1.0, 3.0]), _run([10, 20], [3.0, 5.0])], "val/acc")
    assert band is not None
    np.testing.assert_allclose(band.x, [10, 20])
    np.testing.assert_allclose(band.mean, [2.0, 4.0])
    np.testing.assert_allclose(band.low, [1.0, 3.0])
    np.testing.assert_allclose(band.high, [3.0, 5.0])


def test_curve_band_with_a_run_that_stopped_early() -> None:
    # At step 10 three runs (1, 3, 2): mean 2; at step 20 two runs (3, 5): mean 4; a run
    # missing a point is left out of that point only; one value has no interval.
    runs = [
        _run([10, 20], [1.0, 3.0]),
        _run([10, 20], [3.0, 5.0]),
        _run([10], [2.0]),
        _run([30], [7.0]),
    ]
    band = curve_band(runs, "val/acc")
    assert band is not None
    np.testing.assert_allclose(band.x, [10, 20, 30])
    np.testing.assert_allclose(band.mean, [2.0, 4.0, 7.0])
    np.testing.assert_array_equal(band.n, [3, 2, 1])
    assert band.low[0] >= 1.0 and band.high[0] <= 3.0
    assert math.isnan(band.low[2]) and math.isnan(band.high[2])
    assert curve_band(runs, "val/loss") is None
