"""The benchmark's questions answered as tables (lists of rows), from `load` data:
budget curves, the leader at k = 1, a few and K (Sivaprasad et al.), tuned vs defaults and
the defaults portfolio vs one tuned optimizer (Schmidt et al.), final test metrics over seeds,
IQM and probability of improvement across workloads (Agarwal et al.), time-to-target,
performance profiles and the AlgoPerf-style score."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from research.config.benchmark_files import Workload
from research.leaderboard import aggregate
from research.leaderboard.budget import (
    BudgetCurve,
    best_so_far_curve,
    budget_curve,
    budgets_to_compare,
    leader_at,
)
from research.leaderboard.load import Benchmark, FinalRun
from research.report import stats

Row = list[Any]


@dataclass
class Table:
    name: str  # the CSV file's stem
    title: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)


@dataclass
class Analysis:
    bench: Benchmark
    curves: dict[tuple[str, str], BudgetCurve]
    targets: dict[str, tuple[float | None, str]]  # workload -> (target, how it was set)
    tables: dict[str, Table]
    profiles: dict[str, dict[str, np.ndarray]]  # "steps" / "wall" -> optimizer -> ratios


def _better(w: Workload) -> float:
    return 1.0 if w.higher_is_better else -1.0


def budget_table(curves: dict[tuple[str, str], BudgetCurve]) -> Table:
    table = Table(
        "budget",
        "Expected best validation result after k trials (Dodge et al. 2019), 95% bootstrap band",
        ["workload", "optimizer", "k", "expected_best", "ci_low", "ci_high"],
    )
    for (workload, optimizer), curve in curves.items():
        for k in range(1, curve.expected_best.size + 1):
            table.rows.append(
                [workload, optimizer, k, float(curve.expected_best[k - 1]),
                 float(curve.ci_low[k - 1]), float(curve.ci_high[k - 1])]
            )  # fmt: skip
    return table


def leaders_table(bench: Benchmark, curves: dict[tuple[str, str], BudgetCurve]) -> Table:
    table = Table(
        "leaders",
        "Which optimizer leads after k trials (two-sided permutation test against the runner-up)",
        ["workload", "k", "leader", "runner_up", "difference", "p_value"],
    )
    for w in bench.workloads:
        mine = {o: curves[w.name, o] for o in bench.optimizers if (w.name, o) in curves}
        if not mine:
            continue
        budget = min(c.expected_best.size for c in mine.values())
        for k in budgets_to_compare(budget):
            lead = leader_at(mine, k, w.higher_is_better)
            table.rows.append(
                [w.name, k, lead.winner, lead.runner_up, lead.difference, lead.p_value]
            )
    return table


# A final run's statuses that are a verdict; any other (failed, killed) is run again on resume.
VERDICTS = ("completed", "diverged")


def diverged(w: Workload, run: FinalRun, attr: str) -> bool:
    """Stopped as diverged, or ended with a `val`/`test` result that is NaN or worse than the
    workload's failure value (a loss that blew up below the training-side bound)."""
    value = getattr(run, attr)
    return (
        run.status == "diverged"
        or not math.isfinite(value)
        or (_better(w) * (value - w.failure_value) < 0)
    )


def outcome(w: Workload, run: FinalRun, attr: str) -> float | None:
    """What a final run counts as where failures score, as a trial does in the budget curves:
    the failure value if it diverged, None without a verdict (it does not count)."""
    if run.status not in VERDICTS:
        return None
    return w.failure_value if diverged(w, run, attr) else getattr(run, attr)


def _with_verdict(runs: Sequence[FinalRun]) -> list[FinalRun]:
    return [r for r in runs if r.status in VERDICTS]


def _outcomes(w: Workload, runs: Sequence[FinalRun], attr: str) -> list[float]:
    return [v for r in runs if (v := outcome(w, r, attr)) is not None]


def results(w: Workload, runs: Sequence[FinalRun], attr: str) -> tuple[list[float], int]:
    """The results of the runs that did not diverge, and how many diverged (runs without a
    verdict are in neither)."""
    counted = _with_verdict(runs)
    kept = [getattr(r, attr) for r in counted if not diverged(w, r, attr)]
    return kept, len(counted) - len(kept)


def finals_table(bench: Benchmark) -> Table:
    table = Table(
        "tuned_vs_default",
        "Final test metric over seeds: tuned best vs defaults (mean, 95% bootstrap CI, Welch p; "
        "n: runs in the mean; diverged: runs left out, stopped as diverged or ended NaN or worse "
        "than the workload's failure value)",
        ["workload", "metric", "optimizer", "tuned_mean", "tuned_ci_low", "tuned_ci_high",
         "default_mean", "default_ci_low", "default_ci_high", "tuned_n", "default_n", "p_value",
         "tuned_diverged", "default_diverged"],
    )  # fmt: skip
    for w in bench.workloads:
        for o in bench.optimizers:
            tuned, tuned_out = results(w, bench.runs(w.name, o, "tuned"), "test")
            default, default_out = results(w, bench.runs(w.name, o, "default"), "test")
            if not (tuned or default or tuned_out or default_out):
                continue
            t, d = stats.summarize(tuned), stats.summarize(default)
            welch = stats.welch_test(tuned, default)
            table.rows.append(
                [w.name, w.test_metric, o, t.mean, t.ci_low, t.ci_high, d.mean, d.ci_low,
                 d.ci_high, t.n, d.n, None if welch is None else welch.p, tuned_out, default_out]
            )  # fmt: skip
    return table


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values))


def portfolio_table(bench: Benchmark, curves: dict[tuple[str, str], BudgetCurve]) -> Table:
    """Schmidt et al.'s question with the same number of runs n = number of optimizers: each
    optimizer once at its defaults (the best validation result of the n, per seed, averaged
    over seeds; a diverged run scores the failure value, as a trial does) against one optimizer
    tuned with n trials (its expected best after n)."""
    table = Table(
        "defaults_vs_tuning",
        "Best of all optimizers at defaults vs one optimizer tuned with as many runs",
        ["workload", "runs", "defaults_portfolio", "best_default", "best_tuned_optimizer",
         "best_tuned_value", "tuned_optimizers_beaten", "tuned_optimizers"],
    )  # fmt: skip
    for w in bench.workloads:
        sign = _better(w)
        by_seed: dict[int, list[float]] = {}
        by_optimizer: dict[str, list[float]] = {}
        for o in bench.optimizers:
            for run in bench.runs(w.name, o, "default"):
                if (value := outcome(w, run, "val")) is not None:
                    by_seed.setdefault(run.seed, []).append(value)
                    by_optimizer.setdefault(o, []).append(value)
        n = len(bench.optimizers)
        tuned = {
            o: float(
                curves[w.name, o].expected_best[min(n, curves[w.name, o].expected_best.size) - 1]
            )
            for o in bench.optimizers
            if (w.name, o) in curves
        }
        if not by_seed or not tuned:
            continue
        portfolio = _mean([sign * max(sign * v for v in vals) for vals in by_seed.values()])
        best_default = max(by_optimizer, key=lambda o: sign * _mean(by_optimizer[o]))
        best_tuned = max(tuned, key=lambda o: sign * tuned[o])
        beaten = sum(sign * portfolio >= sign * value for value in tuned.values())
        table.rows.append(
            [w.name, n, portfolio, best_default, best_tuned, tuned[best_tuned], beaten, len(tuned)]
        )
    return table


def measured_target(bench: Benchmark, w: Workload) -> tuple[float | None, str]:
    """AlgoPerf's target: the median over seeds of the validation result of the tuned optimizer
    whose median is best (the final value, as the tuning trials score it; a diverged run
    counts as the failure value)."""
    counted = {o: _outcomes(w, bench.runs(w.name, o, "tuned"), "val") for o in bench.optimizers}
    if not any(results(w, bench.runs(w.name, o, "tuned"), "val")[0] for o in bench.optimizers):
        return None, "not measured: no tuned run finished without diverging"
    medians = {o: statistics.median(values) for o, values in counted.items() if values}
    best = max(medians, key=lambda o: _better(w) * medians[o])
    seeds = len(counted[best])
    return medians[best], f"median over {seeds} seeds of tuned {best}'s final {w.metric}"


def resolve_targets(bench: Benchmark) -> dict[str, tuple[float | None, str]]:
    targets = {}
    for w in bench.workloads:
        if w.target is not None:
            targets[w.name] = (w.target, "from the benchmark config")
        else:
            value, how = measured_target(bench, w)
            targets[w.name] = (value, f"measured in this benchmark: {how}")
    return targets


def time_to_target(
    run: FinalRun, target: float, higher_is_better: bool
) -> tuple[float, float] | None:
    """(steps, wall seconds) until the validation metric first reaches the target; wall time is
    the run's wall time pro rata of its steps (results.json records no time per epoch)."""
    if not run.steps:
        return None
    step = stats.first_reach(np.array(run.steps), np.array(run.values), target, higher_is_better)
    if step is None:
        return None
    wall = run.wall_time_s * step / run.global_step if run.global_step else math.nan
    return step, wall


def target_tables(
    bench: Benchmark, targets: dict[str, tuple[float | None, str]]
) -> tuple[Table, Table, dict[str, dict[str, np.ndarray]]]:
    per_run = Table(
        "time_to_target",
        "Time to the workload's target per final run (steps; wall time pro rata of steps)",
        ["workload", "optimizer", "variant", "seed", "target", "steps", "wall_s"],
    )
    medians: dict[str, dict[str, dict[str, float | None]]] = {"steps": {}, "wall": {}}
    for w in bench.workloads:
        target = targets[w.name][0]
        if target is None:
            continue
        for o in bench.optimizers:
            times: dict[str, list[float | None]] = {"steps": [], "wall": []}
            for variant in ("tuned", "default"):
                for run in _with_verdict(bench.runs(w.name, o, variant)):
                    reached = time_to_target(run, target, w.higher_is_better)
                    per_run.rows.append(
                        [w.name, o, variant, run.seed, target,
                         *(reached if reached else (None, None))]
                    )  # fmt: skip
                    if variant == "tuned":
                        times["steps"].append(reached[0] if reached else None)
                        times["wall"].append(reached[1] if reached else None)
            for kind in ("steps", "wall"):
                medians[kind].setdefault(w.name, {})[o] = stats.censored_median(times[kind])
    profiles = {
        kind: stats.profile_ratios(medians[kind], bench.optimizers) for kind in ("steps", "wall")
    }
    scores = Table(
        "algoperf_score",
        "Tuned optimizers across workloads: AlgoPerf-style score (area under the performance "
        "profile up to tau = 4, in [0, 1]) by steps and by wall time",
        ["optimizer", "workloads", "reached", "score_steps", "score_wall"],
    )
    for o in bench.optimizers:
        ratios = profiles["steps"][o]
        scores.rows.append(
            [o, ratios.size, int(np.isfinite(ratios).sum()),
             stats.algoperf_score(ratios), stats.algoperf_score(profiles["wall"][o])]
        )  # fmt: skip
    return per_run, scores, profiles


def score_matrix(bench: Benchmark, optimizer: str, variant: str) -> np.ndarray | None:
    """(seeds x workloads) of normalised final test values: 0 at the workload's failure value
    (diverged runs count as it), 1 at the best final run of the workload (any optimizer, tuned
    or default). None if a workload lacks runs with a verdict."""
    columns = []
    for w in bench.workloads:
        everything = _outcomes(w, [r for r in bench.finals if r.workload == w.name], "test")
        mine = _outcomes(w, bench.runs(w.name, optimizer, variant), "test")
        if not mine:
            return None
        best = _better(w) * max(_better(w) * v for v in everything)
        columns.append(aggregate.normalise(np.array(mine), w.failure_value, best))
    rows = min(c.size for c in columns)
    return np.stack([c[:rows] for c in columns], axis=1)


def aggregate_tables(bench: Benchmark) -> tuple[Table, Table]:
    iqm = Table(
        "iqm",
        "Interquartile mean of normalised test scores across workloads "
        "(stratified bootstrap 95% CI)",
        ["optimizer", "variant", "runs", "iqm", "ci_low", "ci_high"],
    )
    matrices = {}
    for o in bench.optimizers:
        for variant in ("tuned", "default"):
            scores = score_matrix(bench, o, variant)
            if scores is None:
                continue
            matrices[o, variant] = scores
            interval = aggregate.iqm_interval(scores)
            iqm.rows.append(
                [o, variant, scores.size, interval.estimate, interval.low, interval.high]
            )
    improvement = Table(
        "probability_of_improvement",
        "P(X > Y): probability that a run of X scores above a run of Y on the same workload, "
        "averaged over workloads (stratified bootstrap 95% CI)",
        ["x", "y", "probability", "ci_low", "ci_high"],
    )
    pairs = [
        ((a, "tuned"), (b, "tuned")) for a in bench.optimizers for b in bench.optimizers if a != b
    ]
    pairs += [((o, "tuned"), (o, "default")) for o in bench.optimizers]
    for x, y in pairs:
        if x in matrices and y in matrices:
            interval = aggregate.improvement_interval(matrices[x], matrices[y])
            improvement.rows.append(
                [" ".join(x), " ".join(y), interval.estimate, interval.low, interval.high]
            )
    return iqm, improvement


def curves_of(bench: Benchmark) -> dict[tuple[str, str], BudgetCurve]:
    """Each (workload, optimizer)'s budget curve: Dodge's estimator for random search, the
    best-so-far averaged over repeated studies for an adaptive sampler."""
    curves = {}
    for w in bench.workloads:
        for o in bench.optimizers:
            studies = [s for s in bench.trials.get((w.name, o)) or [] if s]
            if bench.sampler != "random" and studies:
                curves[w.name, o] = best_so_far_curve(studies, bench.budget, w.higher_is_better)
            elif studies:
                curves[w.name, o] = budget_curve(studies[0], bench.budget, w.higher_is_better)
    return curves


def analyze(bench: Benchmark) -> Analysis:
    curves = curves_of(bench)
    targets = resolve_targets(bench)
    per_run, scores, profiles = target_tables(bench, targets)
    iqm, improvement = aggregate_tables(bench)
    tables = [
        budget_table(curves), leaders_table(bench, curves), finals_table(bench),
        portfolio_table(bench, curves), iqm, improvement, per_run, scores,
    ]  # fmt: skip
    return Analysis(bench, curves, targets, {t.name: t for t in tables}, profiles)
