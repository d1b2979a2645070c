"""The sweeper's pure parts: search-space syntax, samplers/pruners, trial accounting, GPU slots."""

from __future__ import annotations

import math

import optuna
import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from research.sweep.counts import FAIL_KIND, count_trials
from research.sweep.devices import devices_override, gpu_slots
from research.sweep.factories import make_pruner, make_sampler
from research.sweep.space import SearchSpaceError, parse_search_space, quoted

BETAS = {
    "optimizer.lr": "tag(log, interval(1e-5, 1e-1))",
    "optimizer.beta1": "tag(log, one_minus, interval(1e-4, 0.5))",
}


def test_intervals_log_and_one_minus() -> None:
    space = parse_search_space(BETAS)
    lr, beta1 = space.params
    assert lr.name == "optimizer.lr"
    assert lr.distribution == FloatDistribution(1e-5, 1e-1, log=True)
    assert beta1.name == "1-optimizer.beta1", "the Optuna name says what is sampled"
    assert beta1.distribution == FloatDistribution(1e-4, 0.5, log=True)
    assert beta1.override(0.001) == "optimizer.beta1=0.999"
    assert beta1.override(1e-4) == "optimizer.beta1=0.9999"
    assert space.applied({"optimizer.lr": 0.01, "1-optimizer.beta1": 0.1}) == {
        "optimizer.lr": 0.01,
        "optimizer.beta1": 0.9,
    }


def test_one_minus_makes_betas_near_one_as_likely_as_one_half() -> None:
    (beta,) = parse_search_space({"b": "tag(log, one_minus, interval(1e-4, 0.5))"}).params
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    betas = [
        beta.applied(study.ask({beta.name: beta.distribution}).params[beta.name])
        for _ in range(4000)
    ]
    above_0_99 = sum(b >= 0.99 for b in betas) / len(betas)
    # log10(1 - beta) is uniform on [-4, log10(0.5)]: P(beta >= 0.99) = 2 / 3.7
    assert above_0_99 == pytest.approx(2 / (4 + math.log10(0.5)), abs=0.03)
    assert min(betas) >= 0.5 and max(betas) <= 0.9999


def test_range_excludes_its_end_like_the_basic_sweeper() -> None:
    space = parse_search_space(
        {"a": "range(1, 5)", "b": "range(0.0, 1.0, 0.25)", "c": "range(8, 0, -4)"}
    )
    a, b, c = space.params
    assert a.distribution == IntDistribution(1, 4)
    assert a.grid == (1, 2, 3, 4)
    assert b.distribution == FloatDistribution(0.0, 0.75, step=0.25)
    assert b.grid == (0.0, 0.25, 0.5, 0.75)
    assert c.distribution == IntDistribution(4, 8, step=4)


def test_choices_keep_their_override_text() -> None:
    space = parse_search_space(
        {"optimizer": "choice(adam, adamw)"}, ["model.width=32,64", "seed=3"]
    )
    groups, width = space.params
    assert groups.distribution == CategoricalDistribution(("adam", "adamw"))
    assert width.distribution == CategoricalDistribution((32, 64))
    assert space.fixed == ("seed=3",)
    assert space.overrides({"optimizer": "adamw", "model.width": 64}) == [
        "seed=3",
        "optimizer=adamw",
        "model.width=64",
    ]


def test_command_line_replaces_a_configured_param() -> None:
    space = parse_search_space(BETAS, ["optimizer.lr=0.01"])
    assert [p.key for p in space.params] == ["optimizer.beta1"]
    assert space.fixed == ("optimizer.lr=0.01",)


def test_enqueue_takes_the_values_runs_get() -> None:
    space = parse_search_space(BETAS)
    sampled = space.to_sampled({"optimizer.lr": 1e-3, "optimizer.beta1": 0.9})
    assert sampled == {"optimizer.lr": 1e-3, "1-optimizer.beta1": pytest.approx(0.1)}
    with pytest.raises(SearchSpaceError, match="not searched"):
        space.to_sampled({"optimizer.beta2": 0.999})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x=tag(one_minus, interval(0.5, 2.0))", "0 <= a < b <= 1"),
        ("x=tag(sqrt, interval(0.1, 1.0))", "unknown tag"),
        ("x=tag(log, interval(0.0, 1.0))", "log"),
        ("x=range(5, 1)", "empty"),
    ],
)
def test_bad_spaces_are_rejected_with_the_offending_entry(line: str, message: str) -> None:
    key, value = line.split("=", 1)
    with pytest.raises(SearchSpaceError, match=message):
        parse_search_space({key: value})


def test_grid_covers_every_point_once_then_is_done() -> None:
    space = parse_search_space({"a": "range(1, 3)", "b": "choice(x, y)"})
    assert space.grid_size() == 4
    study = optuna.create_study(sampler=make_sampler({"name": "grid"}, space, seed=0))
    for _ in range(4):
        trial = study.ask(space.distributions)
        study.tell(trial, 0.0)  # GridSampler's own after_trial would raise at the last point
    assert {tuple(t.params.values()) for t in study.trials} == {
        (1, "x"), (1, "y"), (2, "x"), (2, "y"),
    }  # fmt: skip
    with pytest.raises(SearchSpaceError, match="grid"):
        parse_search_space(BETAS).grid()


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_samplers_take_explicit_settings_and_drop_foreign_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    space = parse_search_space(BETAS)
    tpe = make_sampler({"name": "tpe", "multivariate": False, "constant_liar": False}, space, 1)
    assert isinstance(tpe, optuna.samplers.TPESampler)
    assert tpe._multivariate is False and tpe._constant_liar is False
    random = make_sampler({"name": "random", "n_startup_trials": 3}, space, 1)
    assert isinstance(random, optuna.samplers.RandomSampler)
    assert "The random sampler takes no n_startup_trials: ignored" in caplog.text
    caplog.clear()
    off = make_pruner({"name": "none", "n_startup_trials": 5, "n_warmup_steps": 1})
    assert isinstance(off, optuna.pruners.NopPruner)
    assert not caplog.text, "switching pruning off leaves nothing to warn about"
    with pytest.raises(ValueError, match="unknown sampler"):
        make_sampler({"name": "bayes"}, space, 1)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("name", ["tpe", "random", "qmc", "gp", "cmaes", "grid"])
def test_every_sampler_searches_the_space(name: str) -> None:
    if name == "cmaes":
        pytest.importorskip("cmaes")
    grid = {"a": "range(1, 4)", "b": "choice(0.9, 0.99)"}
    space = parse_search_space(grid if name == "grid" else BETAS)
    study = optuna.create_study(sampler=make_sampler({"name": name}, space, seed=0))
    for _ in range(4):
        trial = study.ask(space.distributions)
        study.tell(trial, sum(space.applied(trial.params).values()))
    assert len({tuple(t.params.values()) for t in study.trials}) > 1


def test_pruners() -> None:
    assert isinstance(make_pruner(None), optuna.pruners.NopPruner)
    median = make_pruner({"name": "median", "n_startup_trials": 2, "n_warmup_steps": 1})
    assert isinstance(median, optuna.pruners.MedianPruner)
    assert isinstance(make_pruner({"name": "hyperband"}), optuna.pruners.HyperbandPruner)
    halving = make_pruner({"name": "successive_halving"})
    assert isinstance(halving, optuna.pruners.SuccessiveHalvingPruner)


def test_killed_trials_do_not_count_toward_n_trials() -> None:
    def trial(state: TrialState, **attrs: str) -> optuna.trial.FrozenTrial:
        return create_trial(state=state, value=1.0 if state == TrialState.COMPLETE else None,
                            user_attrs=attrs)  # fmt: skip

    counts = count_trials(
        [
            trial(TrialState.COMPLETE),
            trial(TrialState.PRUNED),
            trial(TrialState.FAIL, **{FAIL_KIND: "diverged"}),
            trial(TrialState.FAIL),  # heartbeat expired: killed
            trial(TrialState.FAIL, **{FAIL_KIND: "interrupted"}),
            trial(TrialState.WAITING),
        ]
    )
    assert (counts.complete, counts.pruned, counts.failed, counts.lost) == (1, 1, 1, 2)
    assert counts.counted == 3 and counts.waiting == 1


def test_parallel_trials_get_their_own_gpus() -> None:
    assert gpu_slots(n_gpus=4, n_jobs=2, per_trial=None) == [[0, 1], [2, 3]]
    assert gpu_slots(n_gpus=4, n_jobs=4, per_trial=1) == [[0], [1], [2], [3]]
    assert gpu_slots(n_gpus=2, n_jobs=4, per_trial=None) == [[0], [1], [0], [1]]
    assert devices_override([2, 3]) == "trainer.devices=[2,3]"


def test_quoted_values_survive_hydra_parsing() -> None:
    parser = OverridesParser.create()
    for text in ["sqlite:////tmp/a b/studies.db", "it's", "postgresql://u:p@h:5432/db"]:
        assert parser.parse_override(f"k={quoted(text)}").value() == text
