"""The benchmark's tables from a benchmark built in memory, against values worked out by hand:
which runs count, a run that blew up without a NaN (diverged: left out of means, the failure
value where runs score), a run without a verdict (counts nowhere), the leader's permutation
test, the portfolio, the measured target, time to target with runs that never reach it, the
AlgoPerf score, the IQM and P(X > Y) of clipped, normalised scores."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ttest_ind

from research.config.benchmark_files import Workload
from research.leaderboard.analysis import (
    Table,
    aggregate_tables,
    analyze,
    budget_table,
    curves_of,
    diverged,
    finals_table,
    leaders_table,
    outcome,
    portfolio_table,
    resolve_targets,
    target_tables,
)
from research.leaderboard.budget import best_so_far, expected_best
from research.leaderboard.load import Benchmark, FinalRun
from research.leaderboard.output import budget_markdown, summary_md
from tests.test_benchmark_stats import exact_permutation_p

QUAD = Workload("quad", "val/loss", "test/loss", False, 220.0, None)
CLS = Workload("cls", "val/acc", "test/acc", True, 0.1, 0.5)
TRIALS: dict[tuple[str, str], list[float]] = {
    ("quad", "a"): [100.0, 220.0, 120.0, 110.0],
    ("quad", "b"): [150.0, 160.0, 140.0, 155.0],
    ("cls", "a"): [0.6, 0.5, 0.55, 0.4],
    ("cls", "b"): [0.3, 0.35, 0.2, 0.25],
}
TRIALS_STUDIES = {key: [values] for key, values in TRIALS.items()}  # random search: one study


def _run(
    w: Workload,
    optimizer: str,
    variant: str,
    seed: int,
    val: float,
    test: float,
    history: list[tuple[int, float]] | None = None,
    status: str = "completed",
    wall_time_s: float = 3.0,
    global_step: int = 30,
) -> FinalRun:
    history = history if history is not None else [(30, val)]
    return FinalRun(
        workload=w.name, optimizer=optimizer, variant=variant, seed=seed, status=status,
        val=val, test=test, steps=[float(s) for s, _ in history],
        values=[v for _, v in history], global_step=global_step, wall_time_s=wall_time_s,
        path=Path("."),
    )  # fmt: skip


def _bench(**changes: object) -> Benchmark:
    finals = [
        # quad, minimised, failure value 220
        _run(QUAD, "a", "tuned", 0, 98.0, 98.5, [(10, 150.0), (20, 100.0), (30, 98.0)]),
        _run(QUAD, "a", "tuned", 1, 99.0, 99.5, [(10, 140.0), (20, 120.0), (30, 99.0)]),
        # stopped as diverged at step 20 after a good validation value: no test result
        _run(QUAD, "a", "tuned", 2, 97.0, math.nan, [(10, 130.0), (20, 97.0)], "diverged"),
        # blew up to 6e24 without a NaN and completed
        _run(QUAD, "a", "default", 0, 6e24, 6e24, [(10, 200.0), (20, 1e10), (30, 6e24)]),
        _run(QUAD, "a", "default", 1, 160.0, math.nan, [(10, 160.0)], "diverged"),
        _run(QUAD, "a", "default", 2, 150.0, 151.0, [(10, 190.0), (20, 170.0), (30, 150.0)]),
        _run(QUAD, "b", "tuned", 0, 130.0, 131.0, [(10, 180.0), (20, 150.0), (30, 130.0)]),
        _run(QUAD, "b", "tuned", 1, 135.0, 136.0, [(10, 185.0), (20, 160.0), (30, 135.0)]),
        _run(QUAD, "b", "tuned", 2, 200.0, 199.0, [(10, 210.0), (20, 205.0), (30, 200.0)]),
        _run(QUAD, "b", "default", 0, 170.0, 171.0),
        _run(QUAD, "b", "default", 1, 175.0, 176.0),
        _run(QUAD, "b", "default", 2, 180.0, 181.0),
        # failed (no verdict: the benchmark runs it again); it would be the best run otherwise
        _run(QUAD, "b", "default", 3, 90.0, 90.0, [(10, 90.0)], "failed"),
        # cls, maximised, failure value 0.1 (chance), target 0.5
        _run(CLS, "a", "tuned", 0, 0.6, 0.59, [(10, 0.3), (20, 0.5), (30, 0.6)]),
        _run(CLS, "a", "tuned", 1, 0.62, 0.61, [(10, 0.4), (20, 0.45), (30, 0.62)]),
        _run(CLS, "a", "tuned", 2, 0.45, 0.44, [(10, 0.2), (20, 0.3), (30, 0.45)]),
        # a test accuracy below chance: worse than the failure value
        _run(CLS, "a", "default", 0, 0.3, 0.05),
        _run(CLS, "a", "default", 1, 0.35, 0.34),
        _run(CLS, "a", "default", 2, 0.36, 0.35),
        # b's runs take twice as long: 6 s for 30 steps
        _run(CLS, "b", "tuned", 0, 0.3, 0.29, [(10, 0.5), (20, 0.4), (30, 0.3)], wall_time_s=6),
        _run(CLS, "b", "tuned", 1, 0.35, 0.36, [(10, 0.2), (20, 0.55), (30, 0.35)], wall_time_s=6),
        _run(CLS, "b", "tuned", 2, 0.32, 0.31, [(10, 0.1), (20, 0.2), (30, 0.32)], wall_time_s=6),
        _run(CLS, "b", "default", 0, 0.2, 0.21),
        _run(CLS, "b", "default", 1, 0.25, 0.24),
        _run(CLS, "b", "default", 2, 0.22, 0.23),
    ]
    bench = Benchmark(
        name="memory", out_dir=Path("."), budget=4, seeds=[0, 1, 2], workloads=[QUAD, CLS],
        optimizers=["a", "b"], trials=TRIALS_STUDIES,
        finals=finals,
    )  # fmt: skip
    for key, value in changes.items():
        setattr(bench, key, value)
    return bench


def _rows(t: Table) -> list[dict[str, object]]:
    return [dict(zip(t.columns, row, strict=True)) for row in t.rows]


def test_a_run_is_diverged_when_stopped_so_or_worse_than_the_failure_value() -> None:
    blown, stopped, bad_acc, fine, failed = (
        _run(QUAD, "a", "default", 0, 6e24, 6e24),
        _run(QUAD, "a", "default", 1, 160.0, math.nan, status="diverged"),
        _run(CLS, "a", "default", 0, 0.3, 0.05),
        _run(QUAD, "b", "tuned", 0, 220.0, 219.0),
        _run(QUAD, "b", "default", 3, 90.0, 90.0, status="failed"),
    )
    assert diverged(QUAD, blown, "test") and outcome(QUAD, blown, "test") == 220.0
    # stopped as diverged: its last validation value (160) does not count
    assert diverged(QUAD, stopped, "val") and outcome(QUAD, stopped, "val") == 220.0
    assert diverged(CLS, bad_acc, "test") and outcome(CLS, bad_acc, "test") == 0.1
    assert not diverged(CLS, bad_acc, "val") and outcome(CLS, bad_acc, "val") == 0.3
    # exactly the failure value is a result, not a divergence
    assert not diverged(QUAD, fine, "val") and outcome(QUAD, fine, "val") == 220.0
    assert outcome(QUAD, fine, "test") == 219.0
    assert outcome(QUAD, failed, "test") is None


def test_tuned_vs_default_leaves_diverged_runs_out_and_counts_them() -> None:
    table = finals_table(_bench())
    assert table.name == "tuned_vs_default"
    rows = {(r["workload"], r["optimizer"]): r for r in _rows(table)}
    assert list(rows) == [("quad", "a"), ("quad", "b"), ("cls", "a"), ("cls", "b")]
    a = rows["quad", "a"]
    # tuned: 98.5 and 99.5 (seed 2 diverged); default: 151 only (6e24 and the stopped run out)
    assert (a["tuned_mean"], a["tuned_n"], a["tuned_diverged"]) == (99.0, 2, 1)
    assert (a["tuned_ci_low"], a["tuned_ci_high"]) == (98.5, 99.5)
    assert (a["default_mean"], a["default_n"], a["default_diverged"]) == (151.0, 1, 2)
    assert math.isnan(a["default_ci_low"]) and a["p_value"] is None
    b = rows["quad", "b"]
    # the failed seed 3 (test loss 90) has no verdict: in neither count
    assert (b["default_mean"], b["default_n"], b["default_diverged"]) == (176.0, 3, 0)
    assert b["tuned_mean"] == pytest.approx((131 + 136 + 199) / 3)
    welch = ttest_ind([131.0, 136.0, 199.0], [171.0, 176.0, 181.0], equal_var=False)
    assert b["p_value"] == pytest.approx(welch.pvalue)
    assert (b["tuned_ci_low"], b["tuned_ci_high"]) == (131.0, 199.0)  # see test_report_stats
    assert (b["default_ci_low"], b["default_ci_high"]) == (171.0, 181.0)
    assert b["metric"] == "test/loss"
    cls = rows["cls", "a"]
    assert (cls["default_mean"], cls["default_n"], cls["default_diverged"]) == (0.345, 2, 1)
    assert cls["tuned_mean"] == pytest.approx((0.59 + 0.61 + 0.44) / 3)
    assert cls["metric"] == "test/acc"


def test_tuned_vs_default_keeps_a_pair_whose_runs_all_diverged() -> None:
    runs = [
        _run(QUAD, "a", "default", 0, 100.0, 101.0, status="failed"),
        _run(QUAD, "b", "tuned", 0, 6e24, 6e24),
        _run(QUAD, "b", "tuned", 1, 300.0, 300.0),
        _run(QUAD, "c", "tuned", 0, 100.0, 100.0),
    ]
    bench = _bench(finals=runs, workloads=[QUAD], optimizers=["a", "b", "c"])
    rows = _rows(finals_table(bench))
    # a: no run with a verdict, no row; b: nothing in the mean, both runs diverged; c: tuned only
    assert [(r["optimizer"], r["tuned_n"], r["tuned_diverged"]) for r in rows] == [
        ("b", 0, 2), ("c", 1, 0),
    ]  # fmt: skip
    assert (rows[0]["default_n"], rows[0]["default_diverged"]) == (0, 0)
    assert math.isnan(rows[0]["tuned_mean"]) and rows[0]["p_value"] is None
    assert rows[1]["tuned_mean"] == 100.0 and math.isnan(rows[1]["default_mean"])


def test_leaders_are_tested_by_exact_permutation() -> None:
    bench = _bench()
    table = leaders_table(bench, curves_of(bench))
    assert table.name == "leaders"
    rows = _rows(table)
    assert [(r["workload"], r["k"]) for r in rows] == [
        ("quad", 1), ("quad", 2), ("quad", 4), ("cls", 1), ("cls", 2), ("cls", 4),
    ]  # fmt: skip
    for row in rows:
        w = QUAD if row["workload"] == "quad" else CLS
        a, b = TRIALS[w.name, "a"], TRIALS[w.name, "b"]
        assert (row["leader"], row["runner_up"]) == ("a", "b")
        k = int(row["k"])
        gap = expected_best(a, k, w.higher_is_better) - expected_best(b, k, w.higher_is_better)
        assert row["difference"] == pytest.approx(abs(gap[-1]))
        assert row["p_value"] == pytest.approx(exact_permutation_p(a, b, k, w.higher_is_better))
    # cls: every trial of a beats every trial of b; 2 of the 70 splits are as extreme
    assert rows[3]["p_value"] == pytest.approx(2 / 70)
    # a workload without trials has no rows; the next one still does
    cls_only = {key: value for key, value in TRIALS_STUDIES.items() if key[0] == "cls"}
    partial = _bench(trials=cls_only)
    assert {r["workload"] for r in _rows(leaders_table(partial, curves_of(partial)))} == {"cls"}
    # one optimizer only: no runner-up, no test
    alone = _bench(optimizers=["a"], workloads=[CLS])
    rows = _rows(leaders_table(alone, curves_of(alone)))
    assert [(r["k"], r["leader"], r["runner_up"], r["p_value"]) for r in rows] == [
        (1, "a", None, None), (2, "a", None, None), (4, "a", None, None),
    ]  # fmt: skip


def test_budget_curves_and_table() -> None:
    bench = _bench()
    curves = curves_of(bench)
    assert set(curves) == set(TRIALS)
    rows = _rows(budget_table(curves))
    assert len(rows) == 4 * 4
    for row in rows:
        w = QUAD if row["workload"] == "quad" else CLS
        k = row["k"]
        curve = curves[w.name, row["optimizer"]]
        assert row["expected_best"] == pytest.approx(
            expected_best(TRIALS[w.name, row["optimizer"]], 4, w.higher_is_better)[k - 1]
        )
        assert (row["ci_low"], row["ci_high"]) == (curve.ci_low[k - 1], curve.ci_high[k - 1])
    assert [r["k"] for r in rows[:4]] == [1, 2, 3, 4]
    # the band of quad/b at k = 1 lies inside its trials' range, at k = 4 it is narrower
    assert 140 <= rows[4]["ci_low"] < rows[4]["ci_high"] <= 160
    # an adaptive sampler: the best-so-far of each study, averaged; a pair without trials has none
    studies = {
        ("quad", "a"): [[120.0, 100.0, 130.0, 90.0], [110.0, 115.0, 105.0, 95.0]],
        ("cls", "b"): [[0.2, 0.5, 0.1, 0.3], [0.4, 0.3, 0.6, 0.5]],
    }
    adaptive = _bench(sampler="tpe", trials=studies)
    curve = curves_of(adaptive)
    assert list(curve) == [("quad", "a"), ("cls", "b")]
    for w in (QUAD, CLS):
        (name,) = (key for key in studies if key[0] == w.name)
        expected = np.mean([best_so_far(s, 4, w.higher_is_better) for s in studies[name]], axis=0)
        assert curve[name].expected_best == pytest.approx(expected)
        assert curve[name].adaptive


def test_the_defaults_portfolio_scores_diverged_defaults_as_failures() -> None:
    bench = _bench()
    table = portfolio_table(bench, curves_of(bench))
    assert table.name == "defaults_vs_tuning"
    rows = {r["workload"]: r for r in _rows(table)}
    quad = rows["quad"]
    # per seed, the best default validation loss: seed 0 min(220 [6e24], 170), seed 1
    # min(220 [stopped as diverged at 160], 175), seed 2 min(150, 180); the failed seed 3 is out
    assert quad["defaults_portfolio"] == pytest.approx((170 + 175 + 150) / 3)
    assert quad["best_default"] == "b"  # a: (220 + 220 + 150) / 3, b: 175
    # tuned with 2 trials (minimised, Dodge weights 1, 3, 5, 7 / 16 from worst to best)
    assert quad["best_tuned_optimizer"] == "a"
    assert quad["best_tuned_value"] == pytest.approx((220 + 3 * 120 + 5 * 110 + 7 * 100) / 16)
    assert (quad["runs"], quad["tuned_optimizers_beaten"], quad["tuned_optimizers"]) == (2, 0, 2)
    cls = rows["cls"]
    assert cls["defaults_portfolio"] == pytest.approx((0.3 + 0.35 + 0.36) / 3)
    # b tuned: (0.2 + 3 * 0.25 + 5 * 0.3 + 7 * 0.35) / 16 = 0.30625 < 0.3367: beaten
    assert (cls["best_default"], cls["tuned_optimizers_beaten"]) == ("a", 1)


def test_the_portfolio_needs_defaults_and_a_tie_counts_as_beaten() -> None:
    # quad has no default run with a verdict: no row; cls: the defaults' best, 0.5, ties tuned
    # a's expected best of 2 constant trials, 0.5
    runs = [
        _run(QUAD, "a", "default", 0, 100.0, 100.0, status="failed"),
        _run(CLS, "a", "default", 0, 0.5, 0.5),
        _run(CLS, "b", "default", 0, 0.2, 0.2),
    ]
    trials = {("quad", "a"): [[100.0]], ("cls", "a"): [[0.5] * 4], ("cls", "b"): [[0.1, 0.9]]}
    bench = _bench(finals=runs, trials=trials)
    rows = _rows(portfolio_table(bench, curves_of(bench)))
    assert [r["workload"] for r in rows] == ["cls"]
    assert rows[0]["defaults_portfolio"] == 0.5
    # b tuned: best of 2 from (0.1, 0.9) = 0.1 / 4 + 0.9 * 3 / 4 = 0.7 > 0.5: not beaten
    assert (rows[0]["tuned_optimizers_beaten"], rows[0]["best_tuned_optimizer"]) == (1, "b")


def test_the_measured_target_counts_diverged_runs_as_failures() -> None:
    # a's tuned validation losses 98, 99 and 220 (seed 2 stopped as diverged): median 99,
    # better than b's 135; leaving the diverged run out would give 98.5
    targets = resolve_targets(_bench())
    target, how = targets["quad"]
    assert target == 99.0
    assert how == "measured in this benchmark: median over 3 seeds of tuned a's final val/loss"
    assert targets["cls"] == (0.5, "from the benchmark config")
    # every tuned run diverged: no target, said so
    runs = [
        _run(QUAD, "a", "tuned", 0, 6e24, 6e24),
        _run(QUAD, "b", "tuned", 0, 100.0, math.nan, status="diverged"),
        _run(QUAD, "b", "tuned", 1, 90.0, 90.0, status="failed"),
    ]
    assert resolve_targets(_bench(finals=runs, workloads=[QUAD]))["quad"] == (
        None,
        "measured in this benchmark: not measured: no tuned run finished without diverging",
    )
    # the best median can come from an optimizer with a diverged seed: a (100, 220, 110) has
    # median 110 < b's 150
    runs = [
        _run(QUAD, "a", "tuned", 0, 100.0, 100.0),
        _run(QUAD, "a", "tuned", 1, 1e9, 1e9),
        _run(QUAD, "a", "tuned", 2, 110.0, 110.0),
        _run(QUAD, "b", "tuned", 0, 150.0, 150.0),
    ]
    assert resolve_targets(_bench(finals=runs, workloads=[QUAD]))["quad"][0] == 110.0


def test_time_to_target_and_the_algoperf_score() -> None:
    bench = _bench()
    per_run_table, scores_table, profiles = target_tables(bench, resolve_targets(bench))
    assert (per_run_table.name, scores_table.name) == ("time_to_target", "algoperf_score")
    per_run = _rows(per_run_table)
    # 12 runs with a verdict per workload (the failed run is not one)
    assert len(per_run) == 24
    steps = {(r["workload"], r["optimizer"], r["variant"], r["seed"]): r["steps"] for r in per_run}
    # quad target 99: a tuned at 30, 30 and 20 (reached before it diverged); b never
    assert [steps["quad", "a", "tuned", s] for s in range(3)] == [30.0, 30.0, 20.0]
    assert steps["quad", "a", "default", 0] is None
    # cls target 0.5: a at 20, 30, never -> censored median 30; b at 10, 20, never -> 20
    assert [steps["cls", "a", "tuned", s] for s in range(3)] == [20.0, 30.0, None]
    assert [steps["cls", "b", "tuned", s] for s in range(3)] == [10.0, 20.0, None]
    walls = {(r["workload"], r["optimizer"], r["variant"], r["seed"]): r["wall_s"] for r in per_run}
    assert walls["quad", "a", "tuned", 2] == pytest.approx(2.0)  # 3 s for 30 steps, reached at 20
    assert walls["cls", "b", "tuned", 1] == pytest.approx(4.0)
    assert {r["target"] for r in per_run if r["workload"] == "quad"} == {99.0}
    np.testing.assert_allclose(profiles["steps"]["a"], [1.0, 1.5])
    np.testing.assert_allclose(profiles["steps"]["b"], [math.inf, 1.0])
    # by wall time b's runs are twice as slow: cls a 3 s (30 steps), b 4 s (20 steps)
    np.testing.assert_allclose(profiles["wall"]["a"], [1.0, 1.0])
    np.testing.assert_allclose(profiles["wall"]["b"], [math.inf, 4 / 3])
    scores = {r["optimizer"]: r for r in _rows(scores_table)}
    # area up to tau = 4 over 3: a (3 + 2.5) / 2 / 3, b (0 + 3) / 2 / 3
    assert scores["a"]["score_steps"] == pytest.approx(5.5 / 6)
    assert scores["b"]["score_steps"] == pytest.approx(0.5)
    assert (scores["a"]["reached"], scores["b"]["reached"]) == (2, 1)
    assert scores["a"]["score_wall"] == pytest.approx(1.0)
    assert scores["b"]["score_wall"] == pytest.approx((4 - 4 / 3) / 2 / 3)
    assert scores["a"]["workloads"] == 2
    # a run that logged no validation step never reaches a target; neither does a workload
    # without a target have rows
    silent = [
        _run(CLS, "a", "tuned", 0, 0.9, 0.9, []),
        _run(CLS, "a", "tuned", 1, 0.9, 0.9),
        _run(CLS, "a", "tuned", 2, 0.9, 0.9, global_step=0),  # no step count recorded
    ]
    quiet = _bench(finals=silent, workloads=[QUAD, CLS], optimizers=["a"])
    rows = _rows(target_tables(quiet, {"quad": (None, ""), "cls": (0.5, "")})[0])
    assert [(r["seed"], r["steps"]) for r in rows] == [(0, None), (1, 30.0), (2, 30.0)]
    assert rows[1]["wall_s"] == 3.0 and math.isnan(rows[2]["wall_s"])


# Normalised test scores by seed, 0 at the failure value and 1 at the workload's best run with a
# verdict (quad (220 - v) / (220 - 98.5), cls (v - 0.1) / (0.61 - 0.1)), diverged runs at 0 and
# never below (6e24 and 0.05 are clipped): (quad, cls)
Q, C = 121.5, 0.51
NORMALISED = {
    ("a", "tuned"): ([1.0, 120.5 / Q, 0.0], [0.49 / C, 1.0, 0.34 / C]),
    ("a", "default"): ([0.0, 0.0, 69 / Q], [0.0, 0.24 / C, 0.25 / C]),
    ("b", "tuned"): ([89 / Q, 84 / Q, 21 / Q], [0.19 / C, 0.26 / C, 0.21 / C]),
    ("b", "default"): ([49 / Q, 44 / Q, 39 / Q], [0.11 / C, 0.14 / C, 0.13 / C]),
}


def test_iqm_and_probability_of_improvement_of_clipped_normalised_scores() -> None:
    iqm, improvement = aggregate_tables(_bench())
    assert (iqm.name, improvement.name) == ("iqm", "probability_of_improvement")
    rows = {(r["optimizer"], r["variant"]): r for r in _rows(iqm)}
    assert list(rows) == [("a", "tuned"), ("a", "default"), ("b", "tuned"), ("b", "default")]
    for key, matrix in NORMALISED.items():
        pooled = np.sort(np.ravel(matrix))
        # six runs: 25% of 6 rounds down to 1 cut from each end
        assert rows[key]["iqm"] == pytest.approx(pooled[1:-1].mean()), key
        assert rows[key]["runs"] == 6
        assert rows[key]["ci_low"] <= rows[key]["iqm"] <= rows[key]["ci_high"]
    # skewed enough that the plain mean differs
    assert rows["a", "default"]["iqm"] != pytest.approx(np.mean(NORMALISED["a", "default"]))
    rows = {(r["x"], r["y"]): r for r in _rows(improvement)}
    assert set(rows) == {
        ("a tuned", "b tuned"), ("b tuned", "a tuned"), ("a tuned", "a default"),
        ("b tuned", "b default"),
    }  # fmt: skip
    # quad: a's 1.0 and 0.99 beat all three of b's, a's 0 none: 6/9; cls: a beats b in all 9
    assert rows["a tuned", "b tuned"]["probability"] == pytest.approx((6 / 9 + 1) / 2)
    assert rows["b tuned", "a tuned"]["probability"] == pytest.approx((3 / 9 + 0) / 2)
    # b tuned vs b default: every tuned run above every default one but quad's 21 (< 39, 44, 49)
    assert rows["b tuned", "b default"]["probability"] == pytest.approx((6 / 9 + 1) / 2)
    for row in rows.values():
        assert row["ci_low"] <= row["probability"] <= row["ci_high"]


def test_scores_of_unequal_run_counts_and_missing_variants() -> None:
    # a tuned: 3 runs on quad, 2 on cls: 2 rows; a has no default runs and b no tuned ones: no
    # IQM rows and no P(X > Y) for them; c still comes after them
    runs = [
        _run(QUAD, "a", "tuned", 0, 100.0, 100.0),
        _run(QUAD, "a", "tuned", 1, 160.0, 160.0),
        _run(QUAD, "a", "tuned", 2, 220.0, 220.0),
        _run(CLS, "a", "tuned", 0, 0.6, 0.6),
        _run(CLS, "a", "tuned", 1, 0.35, 0.35),
        _run(QUAD, "b", "default", 0, 190.0, 190.0),
        _run(CLS, "b", "default", 0, 0.2, 0.2),
        _run(QUAD, "c", "tuned", 0, 130.0, 130.0),
        _run(CLS, "c", "tuned", 0, 0.3, 0.3),
        _run(QUAD, "c", "default", 0, 190.0, 190.0),
        _run(CLS, "c", "default", 0, 0.2, 0.2),
    ]
    iqm, improvement = aggregate_tables(_bench(finals=runs, optimizers=["a", "b", "c"]))
    rows = {(r["optimizer"], r["variant"]): r for r in _rows(iqm)}
    assert list(rows) == [("a", "tuned"), ("b", "default"), ("c", "tuned"), ("c", "default")]
    # (quad, cls) by seed: (1, 1), (0.5, 0.5): the middle two of 0.5, 0.5, 1, 1 are 0.5, 1
    assert rows["a", "tuned"]["runs"] == 4 and rows["a", "tuned"]["iqm"] == pytest.approx(0.75)
    pairs = [(r["x"], r["y"]) for r in _rows(improvement)]
    assert pairs == [("a tuned", "c tuned"), ("c tuned", "a tuned"), ("c tuned", "c default")]


def test_analyze_puts_every_table_together() -> None:
    bench = _bench()
    analysis = analyze(bench)
    assert list(analysis.tables) == [
        "budget", "leaders", "tuned_vs_default", "defaults_vs_tuning", "iqm",
        "probability_of_improvement", "time_to_target", "algoperf_score",
    ]  # fmt: skip
    assert analysis.bench is bench and set(analysis.curves) == set(TRIALS)
    assert analysis.targets == resolve_targets(bench)
    assert analysis.tables["leaders"].rows == leaders_table(bench, curves_of(bench)).rows
    np.testing.assert_allclose(analysis.profiles["steps"]["b"], [math.inf, 1.0])


def test_the_summary_shows_each_pairs_expected_best_at_the_leader_tables_k() -> None:
    analysis = analyze(_bench())
    lines = budget_markdown(analysis).splitlines()
    assert lines[2] == "| workload | optimizer | k = 1 | k = 2 | k = 4 |"  # K = 4: 1, 2, K
    assert len(lines) == 4 + 4  # a title, a blank, the header, the rule, four pairs
    curve = analysis.curves["quad", "b"]
    at = [f"{curve.expected_best[k - 1]:.4g} ({curve.ci_low[k - 1]:.4g}, "
          f"{curve.ci_high[k - 1]:.4g})" for k in (1, 2, 4)]  # fmt: skip
    assert "| quad | b | " + " | ".join(at) + " |" in lines
    assert budget_markdown(analysis) in summary_md(analysis)
