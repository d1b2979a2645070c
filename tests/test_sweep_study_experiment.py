"""A study holds one experiment: a sweep whose fixed config differs from the study's is refused
in one line that names the difference and a study name of its own, and a study that already
holds its trials says so instead of passing its results off as the new sweep's."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from research.config.compose import CONF
from research.config.errors import ConfigError
from research.sweep.experiment import (
    FIXED_ATTR,
    check_experiment,
    differences,
    fixed_part,
    refusal,
    suggested_name,
    with_hash,
)
from research.sweep.space import parse_search_space
from research.sweep.storage import open_storage
from tests.test_sweep_e2e import STUDY, load_study, output, sweep

SEARCH = "hparams_search=adam_betas_lr"


@pytest.fixture
def fixed() -> Iterator[Any]:
    """The fixed part of `python -m research.train -m hparams_search=adam_betas_lr OVERRIDES`."""

    def make(*overrides: str, searched: tuple[str, ...] = ()) -> dict[str, Any]:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            job = compose("train", overrides=[SEARCH, *overrides], return_hydra_config=True)
        space = parse_search_space(job.hydra.sweeper.params, searched)
        return fixed_part(job, [p.key for p in space.params])

    yield make
    GlobalHydra.instance().clear()


def test_the_fixed_part_leaves_out_the_searched_keys_and_what_changes_no_result(fixed) -> None:
    base = fixed()
    assert base["choices"] == {
        "experiment": None, "trainer": "cpu", "scheduler": "none", "optimizer": "adam",
        "model": "mlp", "data": "mnist1d",
    }  # fmt: skip
    values = base["values"]
    assert values["data._target_"] == "research.data.mnist1d.MNIST1DDataModule"
    assert values["trainer.max_epochs"] == 10 and values["seed"] == 0
    assert values["optimized_metric"] == "val/acc"
    assert not [k for k in values if k.startswith(("optimizer.lr", "optimizer.beta"))]
    assert not [k for k in values if k.split(".")[0] in ("paths", "logger", "callbacks", "hydra")]
    same = fixed(
        "logger=csv", "callbacks=default", "torch_threads=1", "tags=[a]", "steps_per_batch=8",
        "trainer.enable_progress_bar=false", "hydra.sweeper.n_trials=3", "test=false",
    )  # fmt: skip
    assert differences(base, same) == []
    # A searched seed: neither it nor the data seed that repeats it is part of the experiment.
    searched_seed = fixed("seed=1", searched=("seed=choice(1,2)",))
    assert "seed" not in searched_seed["values"] and "data.seed" not in searched_seed["values"]


def test_a_difference_is_named_by_its_config_group_or_key(fixed) -> None:
    found = differences(fixed(), fixed("data=digits"))
    assert refusal("adam_betas_lr", found, suggested_name("adam_betas_lr", found)) == (
        "study adam_betas_lr holds another experiment: it was made with data=mnist1d, this sweep "
        "has data=digits; give hydra.sweeper.study_name=adam_betas_lr_digits for a study of its own"
    )
    found = differences(fixed(), fixed("trainer.max_epochs=3", "seed=1"))
    assert [(d.made, d.now) for d in found] == [
        ("seed=0", "seed=1"),
        ("trainer.max_epochs=10", "trainer.max_epochs=3"),
    ], "data.seed follows seed: named once"
    assert suggested_name("s", found) == "s_seed1_max_epochs3"
    other = ("model=cnn", "data=digits", "+trainer.gradient_clip_algorithm=norm",
             "optimized_metric=val/loss", "divergence_factor=10")  # fmt: skip
    found = differences(fixed(), fixed(*other))
    message = refusal("s", found, suggested_name("s", found))
    assert "made with data=mnist1d model=mlp divergence_factor=10000.0, this sweep has " in message
    assert "data=digits model=cnn divergence_factor=10 (and 2 more difference(s))" in message
    assert [d.made for d in found[3:]] == [
        "optimized_metric=val/acc",
        "~trainer.gradient_clip_algorithm",
    ]


def test_an_existing_study_of_another_experiment_is_refused_and_one_from_before_is_warned(
    tmp_path: Path, fixed, caplog: pytest.LogCaptureFixture
) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/studies.db")
    mnist1d, digits = fixed(), fixed("data=digits")
    made = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    made.set_user_attr(FIXED_ATTR, mnist1d)
    check_experiment(storage, made._study_id, "s", mnist1d)
    with pytest.raises(ConfigError, match=r"study_name=s_digits for a study of its own$"):
        check_experiment(storage, made._study_id, "s", digits)

    # The suggested name is taken by yet another experiment: a name of this one's own instead.
    taken = optuna.create_study(study_name="s_digits", storage=storage, direction="maximize")
    taken.set_user_attr(FIXED_ATTR, fixed("data=digits", "seed=5"))
    with pytest.raises(ConfigError, match=f"study_name={with_hash('s', digits)} for a study"):
        check_experiment(storage, made._study_id, "s", digits)

    before = optuna.create_study(study_name="old", storage=storage, direction="maximize")
    with caplog.at_level(logging.WARNING):
        check_experiment(storage, before._study_id, "old", digits)
    assert "Study old was made before studies recorded their config" in caplog.text
    assert FIXED_ATTR not in storage.get_study_user_attrs(before._study_id), "nothing claimed"


def test_a_sweep_of_another_experiment_is_refused_and_a_full_study_runs_nothing(
    tmp_path: Path,
) -> None:
    first = sweep(tmp_path, "hydra.sweeper.n_trials=1", "trainer.max_epochs=1")
    assert first.returncode == 0, output(first)
    made = load_study(tmp_path)
    assert made.user_attrs[FIXED_ATTR]["choices"]["data"] == "digits"
    storage = f"sqlite:///{tmp_path}/optuna/studies.db"
    sweeps = sorted((tmp_path / "multirun").glob("*/*"))

    other = sweep(tmp_path, "hydra.sweeper.n_trials=2", "trainer.max_epochs=1", "data=mnist1d")
    assert other.returncode == 2, output(other)
    assert other.stderr.strip().splitlines()[-1] == (
        f"error: study {STUDY} holds another experiment: it was made with data=digits, this sweep "
        f"has data=mnist1d; give hydra.sweeper.study_name={STUDY}_mnist1d for a study of its own"
    )
    assert "Traceback" not in output(other)
    assert sorted((tmp_path / "multirun").glob("*/*")) == sweeps, "no sweep folder"
    after = load_study(tmp_path)
    assert len(after.trials) == 1 and after.user_attrs == made.user_attrs, "the study untouched"
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == [STUDY]

    again = sweep(tmp_path, "hydra.sweeper.n_trials=1", "trainer.max_epochs=1")
    assert again.returncode == 0, output(again)
    assert len(load_study(tmp_path).trials) == 1
    (trial,) = made.trials
    last = again.stdout.strip().splitlines()[-1]
    assert (
        f"Study {STUDY} already held 1 counted trial(s) (n_trials=1): nothing ran; its best "
        f"val/acc: {trial.value} with {trial.params}"
    ) in last, output(again)
    assert sorted((tmp_path / "multirun").glob("*/*")) == sweeps, "nothing ran: no sweep folder"
