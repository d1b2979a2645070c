"""Pre-flight: compose the job config once, at the search space's first point, and check it
before anything is created in the storage. A config error every trial would hit (an unknown
override, a key the chosen dataset or model does not take, an invalid value) then stops the
sweep in one line instead of failing trial after trial. For research.train's configs the first
point's data, model and optimizer are also built once (`check_built`): a model that cannot read
the data, data files that are missing, or an optimizer's own bad value stop the sweep the same
way. So does a number of directions that differs from the number of optimized metrics (a
multi-objective search gives a list of each)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

from hydra.errors import HydraException
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from research.config.checks import validate
from research.config.errors import ConfigError
from research.config.job import as_sweep_job, hydra_config_kept
from research.config.objectives import metric_names
from research.training.built_checks import check_built, first_line

# Keys instantiate() reads itself, and keys the pipeline removes before it instantiates.
RESERVED = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}
CONSUMED_BY_PIPELINE = {"model": {"compile"}}
CHECKED_NODES = ("data", "model", "optimizer", "scheduler")
RUN_CONFIG_KEYS = ("seed", "optimized_metric", "data", "optimizer", "trainer")  # research.train's


def preflight(
    config_loader: Any,
    master_config: DictConfig,
    overrides: Sequence[str],
    directions: Sequence[str],
) -> DictConfig:
    """The first trial's composed config (with its `hydra` node), once checked."""
    try:
        job = config_loader.load_sweep_config(master_config, list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        message = first_line(error)
        raise ConfigError(f"the first trial's config does not compose: {message}") from None
    if "optimized_metric" in job:  # research.train's (other apps return what they like)
        check_objectives(job.optimized_metric, directions)
    with_hydra = job
    job = OmegaConf.masked_copy(with_hydra, [k for k in with_hydra if k != "hydra"])
    try:
        for path, node in _target_nodes(job):
            check_arguments(path, node)
        if all(key in job for key in RUN_CONFIG_KEYS):  # the sweeper also drives other apps
            with hydra_config_kept():
                as_sweep_job(with_hydra, 0)  # `${hydra:runtime.output_dir}` as the trial's
                validate(job)
                check_built(job)
    except ConfigError as error:
        raise ConfigError(f"{error} (checked before the first trial: all would fail)") from None
    return with_hydra


def check_objectives(optimized_metric: Any, directions: Sequence[str]) -> None:
    """The run returns one value per metric, and Optuna takes one per direction."""
    metrics = metric_names(optimized_metric)
    if len(metrics) != len(directions):
        metric = metrics[0] if isinstance(optimized_metric, str) else f"[{', '.join(metrics)}]"
        direction = directions[0] if len(directions) == 1 else f"[{', '.join(directions)}]"
        raise ConfigError(
            f"hydra.sweeper.direction={direction} has {len(directions)} direction(s) but "
            f"optimized_metric={metric} names {len(metrics)} metric(s): give one direction per "
            "metric, e.g. 'optimized_metric=[val/acc,val/loss]' "
            "'hydra.sweeper.direction=[maximize,minimize]'"
        )


def _target_nodes(job: DictConfig) -> Iterator[tuple[str, DictConfig]]:
    for name in CHECKED_NODES:
        node = job.get(name)
        if isinstance(node, DictConfig) and "_target_" in node:
            yield name, node


def check_arguments(path: str, node: DictConfig) -> None:
    """Every key of a `_target_` node must be an argument of its target."""
    parameters = accepted_arguments(get_object(str(node._target_)))
    if parameters is None:
        return
    keys = set(node.keys()) - RESERVED - CONSUMED_BY_PIPELINE.get(path, set())
    unknown = sorted(str(k) for k in keys - set(parameters))
    if unknown:
        allowed = ", ".join(p for p in parameters if p not in ("self", "params", "spec"))
        raise ConfigError(
            f"{path}.{unknown[0]} is not an argument of {node._target_}; it takes: {allowed}"
        )


def accepted_arguments(target: Any) -> list[str] | None:
    """The keyword arguments `target` takes, following `**kwargs` passed on to base classes'
    constructors; None when it takes any."""
    signatures = [target]
    if inspect.isclass(target):
        signatures += [c.__init__ for c in target.__mro__[1:] if "__init__" in vars(c)]
    names: list[str] = []
    for function in signatures:
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):  # a builtin without a signature: cannot tell
            return None
        kinds = {p.kind for p in parameters.values()}
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        names += [n for n, p in parameters.items() if p.kind not in variadic]
        if inspect.Parameter.VAR_KEYWORD not in kinds:
            return list(dict.fromkeys(names))
    return None
