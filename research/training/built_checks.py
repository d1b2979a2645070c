"""Checks that only built objects can make: a model that cannot read the data, data files
that are missing, a project optimizer's own values. A sweep's pre-flight builds its first
job's objects once with these, so that a value every job would trip on stops it in one line
before any job starts."""

from __future__ import annotations

from omegaconf import DictConfig

from research.config.errors import ConfigError


def check_built(job: DictConfig) -> None:
    """Build the job's data, model and optimizer factory as a run does (no Trainer): a value
    they refuse is a ConfigError naming it."""
    from hydra.utils import instantiate

    from research.training.pipeline import build_model, optimizer_factory

    try:
        datamodule = instantiate(job.data, steps_per_batch=job.steps_per_batch)
        build_model(job.model, datamodule)
        optimizer_factory(job.optimizer)
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(
            f"the data or model cannot be built: {type(error).__name__}: {first_line(error)}"
        ) from None


def first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
