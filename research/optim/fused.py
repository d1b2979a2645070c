"""torch's fused optimizer kernels, each bound to the exact chain of transforms it computes.

A fused kernel reads parameters, gradients and state once and writes them once, which no
sequence of eager ops can match (Adam's chain is ~7 passes over memory). A kernel is used only
for a chain equal to the one written here, so a subclass that changes its chain falls back to
the generic path instead of silently running a different rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from research.optim.bucket import Bucket
from research.optim.transforms import (
    AMSGradMax,
    BiasCorrection,
    CoupledWeightDecay,
    DecoupledWeightDecay,
    DescentStep,
    FirstMomentEMA,
    HeavyBallMomentum,
    NesterovLookahead,
    ScaleByRootSecondMoment,
    SecondMomentEMA,
    SecondMomentSum,
    Transform,
)

_DEVICES = ("cpu", "cuda")
_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(frozen=True)
class FusedKernel:
    """Runs one bucket's step with a torch fused kernel; `step` is the bucket's t."""

    run: Callable[[Bucket, Mapping[str, Any], int], None]

    def supports(self, param: Tensor) -> bool:
        return param.device.type in _DEVICES and param.dtype in _DTYPES

    def __call__(self, bucket: Bucket, group: Mapping[str, Any], step: int) -> None:
        self.run(bucket, group, step)


def _steps(bucket: Bucket, step: int) -> list[Tensor]:
    # the kernels read t from a float32 tensor per parameter; every one here has the same t
    t = torch.tensor(float(step), dtype=torch.float32, device=bucket.params[0].device)
    return [t] * len(bucket.params)


def _adam(decoupled: bool, amsgrad: bool) -> FusedKernel:
    kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_

    def run(bucket: Bucket, group: Mapping[str, Any], step: int) -> None:
        kernel(
            bucket.params,
            bucket.grads,
            bucket.buffers["exp_avg"],
            bucket.buffers["exp_avg_sq"],
            bucket.buffers.get("max_exp_avg_sq", []),
            _steps(bucket, step),
            amsgrad=amsgrad,
            lr=group["lr"],
            beta1=group["beta1"],
            beta2=group["beta2"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=False,
        )

    return FusedKernel(run)


def _sgd(nesterov: bool) -> FusedKernel:
    def run(bucket: Bucket, group: Mapping[str, Any], step: int) -> None:
        torch._fused_sgd_(
            bucket.params,
            bucket.grads,
            bucket.buffers.get("momentum_buffer", []),
            weight_decay=group["weight_decay"],
            momentum=group.get("momentum", 0.0),
            lr=group["lr"],
            dampening=0.0,
            nesterov=nesterov,
            maximize=False,
            is_first_step=False,  # buffers start at 0, so 0 * momentum + g is the first step
        )

    return FusedKernel(run)


def _adagrad(bucket: Bucket, group: Mapping[str, Any], step: int) -> None:
    torch._fused_adagrad_(
        bucket.params,
        bucket.grads,
        bucket.buffers["sum"],
        _steps(bucket, step),
        lr=group["lr"],
        lr_decay=0.0,
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        maximize=False,
    )


def _adam_chain(decay: Transform, amsgrad: bool) -> tuple[Transform, ...]:
    moments = (FirstMomentEMA(), SecondMomentEMA(), *((AMSGradMax(),) if amsgrad else ()))
    return (decay, *moments, BiasCorrection(), ScaleByRootSecondMoment(), DescentStep())


_KERNELS: dict[tuple[Transform, ...], FusedKernel] = {
    _adam_chain(CoupledWeightDecay(), amsgrad=False): _adam(decoupled=False, amsgrad=False),
    _adam_chain(CoupledWeightDecay(), amsgrad=True): _adam(decoupled=False, amsgrad=True),
    _adam_chain(DecoupledWeightDecay(), amsgrad=False): _adam(decoupled=True, amsgrad=False),
    _adam_chain(DecoupledWeightDecay(), amsgrad=True): _adam(decoupled=True, amsgrad=True),
    (CoupledWeightDecay(), DescentStep()): _sgd(nesterov=False),
    (CoupledWeightDecay(), HeavyBallMomentum(), DescentStep()): _sgd(nesterov=False),
    (CoupledWeightDecay(), HeavyBallMomentum(), NesterovLookahead(), DescentStep()): _sgd(
        nesterov=True
    ),
    (
        CoupledWeightDecay(),
        SecondMomentSum(),
        ScaleByRootSecondMoment(),
        DescentStep(),
    ): FusedKernel(_adagrad),
}


def fused_kernel(chain: tuple[Transform, ...]) -> FusedKernel | None:
    """The torch fused kernel that computes exactly this chain, if there is one."""
    return _KERNELS.get(tuple(chain))
