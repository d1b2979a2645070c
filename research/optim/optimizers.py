"""The named optimizers: each one is a chain of transforms plus its default hyperparameters.

Defaults are the ones `conf/optimizer/<name>.yaml` ships: the articles' (lr 1e-3, beta1 0.9,
beta2 0.999, eps 1e-8) for the Adam family, values that train a small CNN on MNIST-1D
elsewhere. Each optimizer matches its torch.optim counterpart (see the table in README.md).
"""

from __future__ import annotations

from research.optim.base import ChainedOptimizer
from research.optim.transforms import (
    AMSGradMax,
    BiasCorrection,
    CoupledWeightDecay,
    DecoupledWeightDecay,
    DescentStep,
    FirstMomentEMA,
    HeavyBallMomentum,
    NesterovFirstMoment,
    NesterovLookahead,
    Restart,
    ScaleByRootSecondMoment,
    SecondMomentEMA,
    SecondMomentSum,
)

_ADAM = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}


class SGD(ChainedOptimizer):
    """theta <- theta - lr * g (article 3). As torch.optim.SGD."""

    chain = (CoupledWeightDecay(), DescentStep())
    default_hyperparameters = {"lr": 0.05, "weight_decay": 0.0}


class Momentum(ChainedOptimizer):
    """SGD on a heavy-ball velocity buf <- momentum * buf + g. As torch.optim.SGD(momentum=m)."""

    chain = (CoupledWeightDecay(), HeavyBallMomentum(), DescentStep())
    default_hyperparameters = {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.0}


class Nesterov(ChainedOptimizer):
    """Momentum with a Nesterov look-ahead. As torch.optim.SGD(momentum=m, nesterov=True)."""

    chain = (CoupledWeightDecay(), HeavyBallMomentum(), NesterovLookahead(), DescentStep())
    default_hyperparameters = {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.0}


class Adagrad(ChainedOptimizer):
    """s <- s + g^2; theta <- theta - lr * g / (sqrt(s) + eps) (article 2). As torch's Adagrad."""

    chain = (CoupledWeightDecay(), SecondMomentSum(), ScaleByRootSecondMoment(), DescentStep())
    default_hyperparameters = {"lr": 0.01, "eps": 1e-8, "weight_decay": 0.0}


class RMSprop(ChainedOptimizer):
    """s <- rho * s + (1 - rho) * g^2; step g / (sqrt(s) + eps), optionally with momentum.

    As torch.optim.RMSprop(alpha=rho, momentum=momentum) (article 2).
    """

    chain = (
        CoupledWeightDecay(),
        SecondMomentEMA(beta="rho"),
        ScaleByRootSecondMoment(),
        HeavyBallMomentum(),
        DescentStep(),
    )
    default_hyperparameters = {
        "lr": 1e-3,
        "rho": 0.99,
        "eps": 1e-8,
        "momentum": 0.0,
        "weight_decay": 0.0,
    }


class Adam(ChainedOptimizer):
    """RMSprop + momentum + bias correction (articles 0, 2, 4); weight_decay is coupled L2.

    As torch.optim.Adam: the penalty is added to g, so it is rescaled by the adaptive step.
    """

    chain = (
        CoupledWeightDecay(),
        FirstMomentEMA(),
        SecondMomentEMA(),
        BiasCorrection(),
        ScaleByRootSecondMoment(),
        DescentStep(),
    )
    default_hyperparameters = _ADAM


class AdamW(ChainedOptimizer):
    """Adam with decoupled weight decay theta <- theta * (1 - lr * wd). As torch.optim.AdamW."""

    chain = (
        DecoupledWeightDecay(),
        FirstMomentEMA(),
        SecondMomentEMA(),
        BiasCorrection(),
        ScaleByRootSecondMoment(),
        DescentStep(),
    )
    default_hyperparameters = {**_ADAM, "weight_decay": 1e-2}


class AMSGrad(ChainedOptimizer):
    """Adam dividing by the running max of v. As torch.optim.Adam(amsgrad=True)."""

    chain = (
        CoupledWeightDecay(),
        FirstMomentEMA(),
        SecondMomentEMA(),
        AMSGradMax(),
        BiasCorrection(),
        ScaleByRootSecondMoment(),
        DescentStep(),
    )
    default_hyperparameters = _ADAM


class NAdam(ChainedOptimizer):
    """Adam with Nesterov momentum and torch's momentum schedule. As torch.optim.NAdam."""

    chain = (
        CoupledWeightDecay(),
        NesterovFirstMoment(),
        SecondMomentEMA(),
        BiasCorrection(first=None),
        ScaleByRootSecondMoment(),
        DescentStep(),
    )
    default_hyperparameters = {**_ADAM, "momentum_decay": 4e-3}


class AdamNoBiasCorrection(ChainedOptimizer):
    """Adam as article 1 writes it: theta - lr * m_t / (sqrt(v_t) + eps), no bias correction."""

    chain = (
        CoupledWeightDecay(),
        FirstMomentEMA(),
        SecondMomentEMA(),
        ScaleByRootSecondMoment(),
        DescentStep(),
    )
    default_hyperparameters = _ADAM


class AdamStateless(ChainedOptimizer):
    """Article 4's `diy_adam`: t, m and v restart at every call, so each step is a first step.

    With bias correction that step is lr * g / (|g| + eps): sign descent, whatever the betas.
    """

    chain = (
        Restart(),
        CoupledWeightDecay(),
        FirstMomentEMA(),
        SecondMomentEMA(),
        BiasCorrection(),
        ScaleByRootSecondMoment(),
        DescentStep(),
    )
    default_hyperparameters = _ADAM
