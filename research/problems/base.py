"""What a problem is to the framework: a model whose output is each sample's loss."""

from __future__ import annotations

from research.config.errors import ConfigError
from research.data.spec import DataSpec
from research.models.base import Model


class Problem(Model):
    """Parameters plus a loss per sample of `vector` data; `forward` returns the losses."""

    accepts = ("vector",)

    def __init__(self, spec: DataSpec, dim: int | None = None) -> None:
        super().__init__(spec)
        if dim is not None and spec.shape != (dim,):
            raise ConfigError(
                f"model {type(self).__name__} takes {dim}-dimensional samples but data "
                f"{spec.name!r} has shape {spec.shape}: make their dimensions agree"
            )
