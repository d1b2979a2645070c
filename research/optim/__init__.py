"""The project's optimizers, built from composable update transforms.

`research.optim.Adam(params, lr=1e-3, beta1=0.9, ...)` is a `torch.optim.Optimizer`; see
`transforms` for the pieces, `base.ChainedOptimizer` for how a chain runs, and `diagnostics`
for what an optimizer can report about its steps. The seed articles' family is in
`optimizers`; each later rule has its own module (`radam`, `adafactor`, `lion`, `muon`,
`schedule_free`, `prodigy`, `lamb`) with the transforms that are new in it.
"""

from research.optim.adafactor import Adafactor
from research.optim.base import ChainedOptimizer, Impl
from research.optim.diagnostics import OptimizerProbe
from research.optim.lamb import Lamb
from research.optim.lion import Lion
from research.optim.muon import Muon
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
from research.optim.prodigy import Prodigy
from research.optim.radam import RAdam
from research.optim.schedule_free import ScheduleFreeAdamW

__all__ = [
    "SGD",
    "AMSGrad",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamNoBiasCorrection",
    "AdamStateless",
    "AdamW",
    "ChainedOptimizer",
    "Impl",
    "Lamb",
    "Lion",
    "Momentum",
    "Muon",
    "NAdam",
    "Nesterov",
    "OptimizerProbe",
    "Prodigy",
    "RAdam",
    "RMSprop",
    "ScheduleFreeAdamW",
]
