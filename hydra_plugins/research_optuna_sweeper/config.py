"""The `hydra/sweeper=optuna` config schema and its sampler/pruner groups.

Samplers and pruners are config groups (`hydra/sweeper/sampler=random`,
`hydra/sweeper/pruner=median`) so that choosing one replaces the whole node; their keys are
the Optuna constructor arguments, passed as they are (the sweeper's `seed` goes to the sampler).
"""

# No `from __future__ import annotations`: Hydra executes plugin modules before registering
# them in sys.modules, and dataclasses then cannot resolve string annotations.
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

SWEEPER_TARGET = "hydra_plugins.research_optuna_sweeper.optuna_sweeper.OptunaSweeper"

SAMPLERS: dict[str, dict[str, Any]] = {
    # Optuna 5's TPE defaults to multivariate + constant_liar; spelled out so results are
    # reproducible across Optuna versions. constant_liar keeps parallel trials apart.
    "tpe": {
        "name": "tpe",
        "n_startup_trials": 10,
        "multivariate": True,
        "constant_liar": True,
        "group": False,
        "n_ei_candidates": 24,
    },
    "random": {"name": "random"},
    "qmc": {"name": "qmc", "qmc_type": "sobol", "scramble": True},
    "gp": {"name": "gp", "n_startup_trials": 10, "deterministic_objective": False},
    "cmaes": {"name": "cmaes", "n_startup_trials": 1, "sigma0": None, "with_margin": False},
    "grid": {"name": "grid"},
    # Multi-objective (Hydra's plugin ships it for that); TPE searches several objectives too.
    "nsgaii": {
        "name": "nsgaii",
        "population_size": 50,
        "mutation_prob": None,
        "crossover_prob": 0.9,
        "swapping_prob": 0.5,
    },
}

PRUNERS: dict[str, dict[str, Any]] = {
    "none": {"name": "none"},
    "median": {
        "name": "median",
        "n_startup_trials": 5,
        "n_warmup_steps": 1,
        "interval_steps": 1,
        "n_min_trials": 1,
    },
    "hyperband": {
        "name": "hyperband",
        "min_resource": 1,
        "max_resource": "auto",
        "reduction_factor": 3,
    },
    "successive_halving": {
        "name": "successive_halving",
        "min_resource": "auto",
        "reduction_factor": 4,
        "min_early_stopping_rate": 0,
    },
}


# Numbers are typed Any: the sweeper checks them itself (research.sweep.options), so that a bad
# value is one line naming the field rather than OmegaConf's conversion error.
@dataclass
class OptunaSweeperConf:
    _target_: str = SWEEPER_TARGET
    # Sampler and pruner nodes reach the sweeper as configs, also in Hydra's `_target_` form:
    # it builds them (keys the class does not take are dropped with a warning).
    _recursive_: bool = False
    defaults: list[Any] = field(
        default_factory=lambda: ["_self_", {"sampler": "tpe"}, {"pruner": "none"}]
    )
    # null: the `hparams_search` choice, else `task_name` (another app: Hydra's job name).
    # Re-running continues this study.
    study_name: str | None = None
    # Outside the timestamped sweep folder, so a re-run resumes (null: this default). Any RDB URL
    # Optuna takes (sqlite, postgresql, mysql) or journal:///path/studies.log (Optuna's journal
    # file, with the sweeper's own heartbeats). A password is masked in everything the sweep
    # writes; better, give it through PGPASSWORD / ~/.pgpass or ${oc.env:VAR}.
    storage: str | None = "sqlite:///${hydra.runtime.cwd}/optuna/studies.db"
    # maximize or minimize; a list (one per optimized_metric, which is then a list too) for a
    # multi-objective search, as Hydra's Optuna sweeper takes it: [maximize, minimize].
    direction: Any = "maximize"
    # Trials the study should hold in the end: complete + pruned + failed (killed ones excluded).
    n_trials: Any = 20
    # Trials run at the same time, one batch per launcher call (hydra/launcher=joblib); null:
    # the launcher's n_jobs (joblib's -1: all CPUs), 1 for the basic launcher (in-process).
    n_jobs: Any = None
    # Sampler seed (null: random), offset by the trials already in the study on a resume.
    seed: Any = None
    # Stop the sweep once more than this fraction of n_trials has failed or diverged.
    max_failure_rate: Any = 0.5
    # key: Hydra sweep syntax, e.g. `tag(log, interval(1e-5, 1e-1))`, `choice(a, b)`, `range(1, 5)`.
    params: dict[str, Any] = field(default_factory=dict)
    # The older Hydra plugin's form: {key: {type: float|int|categorical, low, high, log, step,
    # choices}}; `params` win for a key in both.
    search_space: dict[str, Any] = field(default_factory=dict)
    # "module.function": called as function(config, trial) after each ask, to suggest more
    # parameters (define-by-run); they reach the run as key=value overrides.
    custom_search_space: str | None = None
    # Trials to run first, as {key: value the run gets}; skipped when the study already has them.
    enqueue: list[dict[str, Any]] = field(default_factory=list)
    # Seconds between liveness records, and silence after which a trial counts as killed.
    heartbeat_interval: Any = 10
    grace_period: Any = 60
    # A lost trial (killed, cancelled, preempted) is run again this many times with the same
    # parameters, from its last checkpoint.
    retry_killed: Any = 1
    # GPUs each parallel trial gets (trainer.devices); null: visible GPUs // n_jobs.
    gpus_per_trial: Any = None
    sampler: Any = None
    pruner: Any = None


def register() -> None:
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="research")
    for name, node in SAMPLERS.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=node, provider="research")
    for name, node in PRUNERS.items():
        store.store(group="hydra/sweeper/pruner", name=name, node=node, provider="research")


register()
