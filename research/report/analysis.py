"""Statistics applied to the grouped runs: per-group summaries, the best group's lead, speed
to a target, curves with intervals, and the performance profile across tasks.

Only `completed` runs enter any number; the others are counted per status and drawn apart.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from research.report import stats
from research.report.grouping import Group, Grouping, Task
from research.report.load import Run
from research.report.metrics import TRAIN_LOSS_EPOCH, TRAIN_LOSS_STEP, higher_is_better

MAX_CURVES = 10  # groups drawn per task: more lines is a colour guessing game (tables have all)
Panel = tuple[str, str]  # (metric, "steps" | "epochs")


@dataclass
class CurveBand:
    """Mean over runs with a bootstrap 95% interval, at each x any run logged."""

    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: np.ndarray


@dataclass
class GroupStats:
    group: Group
    completed: list[Run]
    final_values: list[float | None]  # one per completed run
    final: stats.Summary
    best: stats.Summary
    steps_to_target: list[float | None]  # one per completed run; None: never reached
    median_steps: float | None
    status_counts: Counter[str]
    rank: int | None = None
    curves: dict[Panel, CurveBand | None] = field(default_factory=dict)  # drawn groups only

    @property
    def label(self) -> str:
        return self.group.label

    @property
    def reached(self) -> int:
        return sum(t is not None for t in self.steps_to_target)


@dataclass
class Lead:
    """The best group against the runner-up, on the final metric."""

    best: GroupStats
    runner_up: GroupStats
    difference: float  # how far the best group's mean is ahead, in the better direction: >= 0
    test: stats.Welch | None

    @property
    def significant(self) -> bool | None:
        return None if self.test is None else self.test.p < stats.ALPHA


@dataclass
class TaskStats:
    task: Task
    groups: list[GroupStats]  # best first; groups without a completed value last
    lead: Lead | None
    panels: list[Panel] = field(default_factory=list)  # curves computed for the drawn groups

    @property
    def drawn(self) -> list[GroupStats]:
        return [g for g in self.groups if g.group.runs][:MAX_CURVES]

    @cached_property  # asked once per group by the tables: a search has thousands
    def best(self) -> GroupStats | None:
        """The one group ranked first; None when nothing completed or the first place is tied."""
        first = [g for g in self.groups if g.rank == 1]
        return first[0] if len(first) == 1 else None


@dataclass
class Profile:
    """Dolan-More performance profile of time-to-target across tasks (AlgoPerf-style)."""

    methods: list[str]
    tasks: list[str]
    times: dict[str, dict[str, float | None]]
    ratios: dict[str, np.ndarray]
    taus: np.ndarray
    rho: dict[str, np.ndarray]
    scores: dict[str, float]


@dataclass
class Analysis:
    metric: str
    higher_is_better: bool
    target: float | None
    grouping: Grouping
    tasks: list[TaskStats]
    profile: Profile | None

    @property
    def runs(self) -> list[Run]:
        return [r for t in self.tasks for g in t.groups for r in g.group.runs]


def steps_to_target(run: Run, metric: str, target: float, higher: bool) -> float | None:
    series = run.series(metric)
    if series is None:
        return None
    return stats.first_reach(series.steps, series.values, target, higher)


def group_stats(group: Group, metric: str, target: float | None, higher: bool) -> GroupStats:
    completed = [r for r in group.runs if r.status == "completed"]
    values = [r.value(metric) for r in completed]
    times = (
        [steps_to_target(r, metric, target, higher) for r in completed]
        if target is not None
        else []
    )
    return GroupStats(
        group=group,
        completed=completed,
        final_values=values,
        final=stats.summarize(values),
        best=stats.summarize([r.value(metric, "best") for r in completed]),
        steps_to_target=times,
        median_steps=stats.censored_median(times),
        status_counts=Counter(r.status for r in group.runs),
    )


def rank_groups(groups: list[GroupStats], higher: bool) -> list[GroupStats]:
    ranked = sorted(
        (g for g in groups if g.final.n),
        key=lambda g: -g.final.mean if higher else g.final.mean,
    )
    for position, g in enumerate(ranked):
        tied = position and g.final.mean == ranked[position - 1].final.mean
        g.rank = ranked[position - 1].rank if tied else position + 1
    return ranked + [g for g in groups if not g.final.n]


def lead(groups: list[GroupStats]) -> Lead | None:
    ranked = [g for g in groups if g.rank is not None]
    if len(ranked) < 2:
        return None
    best, runner_up = ranked[0], ranked[1]
    return Lead(
        best=best,
        runner_up=runner_up,
        difference=abs(best.final.mean - runner_up.final.mean),
        test=stats.welch_test(best.final_values, runner_up.final_values),
    )


def profile(tasks: list[TaskStats]) -> Profile:
    methods = list(dict.fromkeys(g.label for t in tasks for g in t.groups))
    times = {t.task.label: {g.label: g.median_steps for g in t.groups} for t in tasks}
    ratios = stats.profile_ratios(times, methods)
    finite = [r[np.isfinite(r)] for r in ratios.values()]
    largest = max([float(r.max()) for r in finite if r.size] + [stats.ALGOPERF_TAU_MAX])
    taus = np.unique(np.concatenate([np.linspace(1.0, largest, 200), *finite]))
    return Profile(
        methods=methods,
        tasks=list(times),
        times=times,
        ratios=ratios,
        taus=taus,
        rho={m: stats.performance_profile(ratios[m], taus) for m in methods},
        scores={m: stats.algoperf_score(ratios[m]) for m in methods},
    )


def panels(task: Task, metric: str) -> list[Panel]:
    """Training loss and the metric, by step and by epoch. The loss by step is the windowed
    per-step log of metrics.csv, or the epoch mean when no CSV was logged."""
    runs = [r for g in task.groups for r in g.runs]
    by_step = (
        TRAIN_LOSS_STEP if any(TRAIN_LOSS_STEP in r.per_step for r in runs) else TRAIN_LOSS_EPOCH
    )
    return [(by_step, "steps"), (TRAIN_LOSS_EPOCH, "epochs"), (metric, "steps"), (metric, "epochs")]


def analyze(
    grouping: Grouping, metric: str, target: float | None = None, higher: bool | None = None
) -> Analysis:
    higher = higher_is_better(metric) if higher is None else higher
    tasks = []
    for task in grouping.tasks:
        groups = rank_groups([group_stats(g, metric, target, higher) for g in task.groups], higher)
        result = TaskStats(task, groups, lead(groups), panels(task, metric))
        for g in result.drawn:
            g.curves = {(name, by): curve_band(g.completed, name, by) for name, by in result.panels}
        tasks.append(result)
    has_profile = target is not None and len(tasks) > 1
    return Analysis(
        metric, higher, target, grouping, tasks, profile(tasks) if has_profile else None
    )


def curve_band(runs: Sequence[Run], metric: str, by: str = "steps") -> CurveBand | None:
    """Aggregate one metric of the runs (completed ones, chosen by the caller) along steps or
    epochs; runs missing a point (stopped earlier) are left out of that point only."""
    curves = [s for s in (r.series(metric, by) for r in runs) if s is not None and s.values.size]
    if not curves:
        return None
    xs = [getattr(s, by) for s in curves]
    x = np.unique(np.concatenate(xs))
    data = np.full((len(curves), x.size), np.nan)
    for row, (s, sx) in enumerate(zip(curves, xs, strict=True)):
        data[row, np.searchsorted(x, sx)] = s.values
    n = np.isfinite(data).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(data, axis=0) / n
    if len(curves) > 1:
        low, high = stats.percentile_interval(
            stats.bootstrap_means(data, n_resamples=stats.CURVE_RESAMPLES)
        )
        low, high = np.where(n > 1, low, np.nan), np.where(n > 1, high, np.nan)
    else:
        low = high = np.full(x.size, math.nan)
    return CurveBand(x, mean, low, high, n)
