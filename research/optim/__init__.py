"""The project's optimizers, built from composable update transforms.

`research.optim.Adam(params, lr=1e-3, beta1=0.9, ...)` is a `torch.optim.Optimizer`; see
`transforms` for the pieces, `base.ChainedOptimizer` for how a chain runs, and `diagnostics`
for what an optimizer can report about its steps.
"""

from research.optim.base import ChainedOptimizer, Impl
from research.optim.diagnostics import OptimizerProbe
from research.optim.optimizers import (
    SGD,
    Adagrad,
    Adam,
    AdamNoBiasCorrection,
    AdamStateless,
    AdamW,
    AMSGrad,
    Momentum,
    NAdam,
    Nesterov,
    RMSprop,
)

__all__ = [
    "SGD",
    "AMSGrad",
    "Adagrad",
    "Adam",
    "AdamNoBiasCorrection",
    "AdamStateless",
    "AdamW",
    "ChainedOptimizer",
    "Impl",
    "Momentum",
    "NAdam",
    "Nesterov",
    "OptimizerProbe",
    "RMSprop",
]
