"""The benchmark's statistics against values computed by hand: Dodge et al.'s expected best of
k trials and its bootstrap band, how failed/pruned trials count, the leader test, the IQM and
probability of improvement with stratified bootstrap intervals, and the AlgoPerf score."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from research.report import aggregate, stats
from research.report.bench_load import clip_to_failure, trial_value
from research.report.budget import (
    best_so_far_curve,
    budget_curve,
    budgets_to_compare,
    expected_best,
    leader_at,
)


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
    assert set(np.round(curve.resamples[:, 1], 6)) == {0.0, 0.75, 1.0}


def test_adaptive_samplers_get_the_best_so_far_averaged_over_studies() -> None:
    # best so far: study 1 -> 1, 3, 3; study 2 -> 2, 2, 4; study 3 ran 2 trials -> 0.5, 0.5
    curve = best_so_far_curve([[1.0, 3.0, 2.0], [2.0, 1.0, 4.0], [0.5, 0.1]], 3, True)
    assert curve.expected_best == pytest.approx([7 / 6, 11 / 6, 3.5])
    assert (curve.ci_low <= curve.expected_best).all()
    assert (curve.expected_best <= curve.ci_high).all()
    minimised = best_so_far_curve([[3.0, 1.0, 2.0]], 3, False)
    assert minimised.expected_best == pytest.approx([3.0, 1.0, 1.0])


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


def test_leader_at_a_budget_and_its_p_value() -> None:
    a = budget_curve([0.5, 0.6, 0.9], 3, True)
    b = budget_curve([0.1, 0.2, 0.3], 3, True)
    lead = leader_at({"b": b, "a": a}, 1, True)
    assert (lead.winner, lead.runner_up) == ("a", "b")
    assert lead.difference == pytest.approx(2 / 3 - 0.2)
    assert lead.p_value == 0.0  # every resample of a beats every resample of b
    tie = leader_at({"x": a, "y": budget_curve([0.5, 0.6, 0.9], 3, True)}, 2, True)
    assert tie.p_value == 1.0
    assert budgets_to_compare(20) == [1, 4, 20] and budgets_to_compare(1) == [1]


def test_iqm_and_probability_of_improvement_by_hand() -> None:
    # 8 runs 1..8 on one workload: the middle four are 3, 4, 5, 6
    assert aggregate.iqm(np.arange(1.0, 9.0)[:, None]) == pytest.approx(4.5)
    # across workloads the runs are pooled: (2 x 2) -> 0, 1, 2, 3 -> middle 1, 2
    assert aggregate.iqm(np.array([[0.0, 2.0], [1.0, 3.0]])) == pytest.approx(1.5)
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
    from research.report.bench_analysis import Analysis
    from research.report.bench_load import Benchmark, FinalRun, Workload
    from research.report.figures import palette
    from research.report.figures.benchmark import tuned_vs_default

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
