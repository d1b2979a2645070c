"""DeepOBS's noisy quadratic (Schneider, Balles & Hennig, 2019): 0.5 (θ - x)ᵀ Q (θ - x) for
noise samples x, with Q's spectrum shaped like a deep network's Hessian."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from research.config.errors import ConfigError
from research.data.spec import DataSpec
from research.problems.base import Problem


def hessian(bands: Sequence[Sequence[float]], seed: int) -> torch.Tensor:
    """Rᵀ diag(λ) R with, per band (count, low, high), `count` eigenvalues from U(low, high)
    and R a Haar-random rotation; fixed by `seed`, not by the run's seed."""
    generator = torch.Generator().manual_seed(seed)
    eigenvalues = torch.cat(
        [
            low + (high - low) * torch.rand(int(count), generator=generator, dtype=torch.float64)
            for count, low, high in bands
        ]
    )
    dim = len(eigenvalues)
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    rotation = q * torch.sign(torch.diagonal(r))  # sign fix: Haar-distributed
    return (rotation.T @ torch.diag(eigenvalues) @ rotation).float()


class Quadratic(Problem):
    """θ starts at `init` in every coordinate; the minimum of the expected loss is θ = 0."""

    def __init__(
        self,
        spec: DataSpec,
        eigenvalue_bands: Sequence[Sequence[float]] = ((90, 0.0, 1.0), (10, 30.0, 60.0)),
        hessian_seed: int = 42,
        init: float = 1.0,
    ) -> None:
        if any(len(band) != 3 or band[0] < 1 for band in eigenvalue_bands):
            raise ConfigError(
                f"model.eigenvalue_bands={list(eigenvalue_bands)} must be a list of "
                "[count, low, high] with count >= 1"
            )
        dim = int(sum(band[0] for band in eigenvalue_bands))
        super().__init__(spec, dim=dim)
        self.register_buffer("hessian", hessian(eigenvalue_bands, hessian_seed))
        self.theta = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        offset = self.theta - noise
        return 0.5 * ((offset @ self.hessian) * offset).sum(-1)

    def metrics(self) -> dict[str, torch.Tensor]:
        return {"distance": self.theta.detach().norm()}
