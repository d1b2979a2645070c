"""The online linear problem of Reddi, Kale & Kumar (2018): f_t(x) = c_t * x on [low, high]."""

from __future__ import annotations

import torch
from torch import nn

from research.data.spec import DataSpec
from research.problems.base import Problem


class BoundedLinear(Problem):
    """One scalar x, loss c * x for each sample c, projected back onto [low, high] after every
    step. With the sequence's mean coefficient positive the optimum is x = low."""

    def __init__(
        self, spec: DataSpec, low: float = -1.0, high: float = 1.0, init: float = 0.0
    ) -> None:
        super().__init__(spec, dim=1)
        if not low < high:
            raise ValueError(f"model.low={low} must be below model.high={high}")
        if not low <= init <= high:
            raise ValueError(f"model.init={init} must lie in [model.low, model.high]")
        self.low, self.high = low, high
        self.x = nn.Parameter(torch.tensor([init]))

    def forward(self, coefficients: torch.Tensor) -> torch.Tensor:
        return coefficients @ self.x

    @torch.no_grad()
    def project_(self) -> None:
        self.x.clamp_(self.low, self.high)

    def metrics(self) -> dict[str, torch.Tensor]:
        return {"x": self.x.detach()[0]}
