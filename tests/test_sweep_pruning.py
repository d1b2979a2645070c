"""A trial's pruning decisions through `TrialLink` (one row per report: the thresholds the
sweeper publishes) are Optuna's own, and the sweep process loads neither torch nor Lightning."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from research.sweep.factories import make_pruner
from research.sweep.pruning import PRUNER_ATTR, TrialLink
from research.sweep.thresholds import THRESHOLDS_ATTR, StepThresholds

REPO = Path(__file__).resolve().parent.parent
ODD = (math.nan, math.inf, -math.inf)


def add_finished(study: optuna.Study, count: int, rng: random.Random) -> None:
    """Finished trials of every state, some silent at a step, some reporting NaN or inf."""
    states = [TrialState.COMPLETE] * 4 + [TrialState.PRUNED, TrialState.FAIL]
    for _ in range(count):
        state = rng.choice(states)
        steps = [s for s in range(6) if rng.random() < 0.8]
        values = {s: rng.choice(ODD) if rng.random() < 0.1 else rng.random() for s in steps}
        study.add_trial(
            create_trial(
                state=state,
                value=rng.random() if state == TrialState.COMPLETE else None,
                params={"x": rng.random()},
                distributions={"x": FloatDistribution(0, 1)},
                intermediate_values=values,
            )
        )


def seeded_study(url: str, direction: str, pruner: dict[str, Any], rng: random.Random) -> None:
    """A study of 30 finished trials, its thresholds published as the sweeper does."""
    study = optuna.create_study(
        storage=url, study_name="s", direction=direction, pruner=make_pruner(pruner)
    )
    study.set_user_attr(PRUNER_ATTR, pruner)
    add_finished(study, 30, rng)
    StepThresholds(study.pruner).publish(study)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
@pytest.mark.parametrize(
    "pruner",
    [
        {"name": "median", "n_startup_trials": 5, "n_warmup_steps": 1, "n_min_trials": 1},
        {"name": "median", "n_startup_trials": 0, "interval_steps": 2, "n_min_trials": 12},
        {"_target_": "optuna.pruners.PercentilePruner", "percentile": 25.0, "n_startup_trials": 2},
        {"name": "successive_halving"},  # not a percentile pruner: Optuna's own path
    ],
)
def test_decisions_are_optunas(tmp_path: Path, direction: str, pruner: dict[str, Any]) -> None:
    rng = random.Random(0)
    decided = set()
    for case in range(2):  # a trial better than most, then one worse than most
        high = (case == 0) == (direction == "maximize")
        url = f"sqlite:///{tmp_path}/study{case}.db"
        seeded_study(url, direction, pruner, rng)
        running = optuna.load_study(study_name="s", storage=url).ask()
        link = TrialLink(url, "s", running._trial_id)
        for step in range(6):
            value = 0.7 * high + 0.3 * rng.random()
            ours = link.report(rng.choice(ODD) if rng.random() < 0.1 else value, step)
            fresh = optuna.load_study(study_name="s", storage=url, pruner=make_pruner(pruner))
            theirs = optuna.trial.Trial(fresh, running._trial_id).should_prune()
            assert ours == theirs, (case, step)
            decided.add(ours)
    if pruner.get("name") == "median" and pruner["n_min_trials"] == 1:
        assert decided == {True, False}, "both decisions were taken"


def test_thresholds_follow_the_whole_study(tmp_path: Path) -> None:
    """Trials another sweep process told count once published; before any publish, a trial gets
    Optuna's own rule."""
    rng, url = random.Random(1), f"sqlite:///{tmp_path}/s.db"
    pruner = {"name": "median", "n_startup_trials": 0, "n_min_trials": 1}
    study = optuna.create_study(storage=url, study_name="s", pruner=make_pruner(pruner))
    study.set_user_attr(PRUNER_ATTR, pruner)
    storage, thresholds, decided = study._storage, StepThresholds(study.pruner), set()
    add_finished(study, 20, rng)
    for round_ in range(3):
        add_finished(optuna.load_study(study_name="s", storage=url), 10, rng)
        if round_:
            thresholds.publish(study)
            record = storage.get_study_system_attrs(study._study_id)[THRESHOLDS_ATTR]
            assert record["completed"] == len(study.get_trials(states=(TrialState.COMPLETE,)))
        running = study.ask()
        link = TrialLink(url, "s", running._trial_id)
        for step in range(6):
            ours = link.report(rng.random(), step)
            fresh = optuna.load_study(study_name="s", storage=url, pruner=make_pruner(pruner))
            assert ours == optuna.trial.Trial(fresh, running._trial_id).should_prune()
            decided.add(ours)
        study.tell(running, state=TrialState.FAIL)
    assert decided == {True, False}


def test_the_sweep_process_loads_no_torch() -> None:
    code = (
        "import sys, research.sweep.sweeper, hydra_plugins.research_optuna_sweeper.optuna_sweeper;"
        "print(sorted(m for m in ('torch', 'pytorch_lightning') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_trial_node_names_the_callbacks_function() -> None:
    from research.sweep.pruning import TRIAL_CALLBACKS
    from research.sweep.reporting import trial_callbacks

    assert f"{trial_callbacks.__module__}.{trial_callbacks.__name__}" == TRIAL_CALLBACKS
