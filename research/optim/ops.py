"""Elementwise primitives that update math is written in: on one tensor, or on a list of them.

A transform writes its math once against `Ops`. `TensorOps` runs it on a single tensor: the
readable reference path, and what `torch.compile` traces. `ForeachOps` runs it on a list of
tensors with the multi-tensor `torch._foreach_*` kernels: the fast eager path. Both do the same
arithmetic in the same order as torch.optim, which is what makes results agree with torch to
float32 rounding.

Scalars are Python floats, except under `torch.compile`, where they arrive as 0-dim tensors so
that a changing learning rate or bias correction does not trigger a recompile.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor

Scalar = float | Tensor
Tensors = Any  # a Tensor for TensorOps, a list[Tensor] for ForeachOps


class Ops(Protocol):
    """In-place (trailing underscore) and out-of-place elementwise operations."""

    @staticmethod
    def lerp_(x: Tensors, end: Tensors, weight: Scalar) -> None: ...
    @staticmethod
    def mul_(x: Tensors, scalar: Scalar) -> None: ...
    @staticmethod
    def add_(x: Tensors, other: Tensors, alpha: Scalar) -> None: ...
    @staticmethod
    def add(x: Tensors, other: Tensors, alpha: Scalar) -> Tensors: ...
    @staticmethod
    def add_scalar_(x: Tensors, scalar: Scalar) -> None: ...
    @staticmethod
    def div_scalar_(x: Tensors, scalar: Scalar) -> None: ...
    @staticmethod
    def addcmul_(x: Tensors, a: Tensors, b: Tensors, value: Scalar) -> None: ...
    @staticmethod
    def addcdiv_(x: Tensors, a: Tensors, b: Tensors, value: Scalar) -> None: ...
    @staticmethod
    def sqrt(x: Tensors) -> Tensors: ...
    @staticmethod
    def maximum_(x: Tensors, other: Tensors) -> None: ...
    @staticmethod
    def zero_(x: Tensors) -> None: ...


class TensorOps:
    """One tensor at a time. Tensor scalars (under torch.compile) are first cast to the
    tensor's dtype, as eager kernels cast Python scalars, and use the same formula."""

    @staticmethod
    def lerp_(x: Tensor, end: Tensor, weight: Scalar) -> None:
        x.lerp_(end, _like(weight, x))

    @staticmethod
    def mul_(x: Tensor, scalar: Scalar) -> None:
        x.mul_(_like(scalar, x))

    @staticmethod
    def add_(x: Tensor, other: Tensor, alpha: Scalar) -> None:
        if isinstance(alpha, Tensor):
            x.add_(_like(alpha, x) * other)
        else:
            x.add_(other, alpha=alpha)

    @staticmethod
    def add(x: Tensor, other: Tensor, alpha: Scalar) -> Tensor:
        if isinstance(alpha, Tensor):
            return x + _like(alpha, x) * other
        return x.add(other, alpha=alpha)

    @staticmethod
    def add_scalar_(x: Tensor, scalar: Scalar) -> None:
        x.add_(_like(scalar, x))

    @staticmethod
    def div_scalar_(x: Tensor, scalar: Scalar) -> None:
        x.div_(_like(scalar, x))

    @staticmethod
    def addcmul_(x: Tensor, a: Tensor, b: Tensor, value: Scalar) -> None:
        if isinstance(value, Tensor):
            x.add_(_like(value, x) * a * b)
        else:
            x.addcmul_(a, b, value=value)

    @staticmethod
    def addcdiv_(x: Tensor, a: Tensor, b: Tensor, value: Scalar) -> None:
        if isinstance(value, Tensor):
            x.add_(_like(value, x) * a / b)
        else:
            x.addcdiv_(a, b, value=value)

    @staticmethod
    def sqrt(x: Tensor) -> Tensor:
        return x.sqrt()

    @staticmethod
    def maximum_(x: Tensor, other: Tensor) -> None:
        torch.maximum(x, other, out=x)

    @staticmethod
    def zero_(x: Tensor) -> None:
        x.zero_()


def _like(scalar: Scalar, x: Tensor) -> Scalar:
    return scalar.to(x.dtype) if isinstance(scalar, Tensor) else scalar


class ForeachOps:
    """A list of tensors (same device and dtype) per call, through torch._foreach_* kernels."""

    @staticmethod
    def lerp_(x: list[Tensor], end: list[Tensor], weight: float) -> None:
        torch._foreach_lerp_(x, end, weight)

    @staticmethod
    def mul_(x: list[Tensor], scalar: float) -> None:
        torch._foreach_mul_(x, scalar)

    @staticmethod
    def add_(x: list[Tensor], other: list[Tensor], alpha: float) -> None:
        torch._foreach_add_(x, other, alpha=alpha)

    @staticmethod
    def add(x: list[Tensor], other: list[Tensor], alpha: float) -> list[Tensor]:
        return list(torch._foreach_add(x, other, alpha=alpha))

    @staticmethod
    def add_scalar_(x: list[Tensor], scalar: float) -> None:
        torch._foreach_add_(x, scalar)

    @staticmethod
    def div_scalar_(x: list[Tensor], scalar: float) -> None:
        torch._foreach_div_(x, scalar)

    @staticmethod
    def addcmul_(x: list[Tensor], a: list[Tensor], b: list[Tensor], value: float) -> None:
        torch._foreach_addcmul_(x, a, b, value)

    @staticmethod
    def addcdiv_(x: list[Tensor], a: list[Tensor], b: list[Tensor], value: float) -> None:
        torch._foreach_addcdiv_(x, a, b, value)

    @staticmethod
    def sqrt(x: list[Tensor]) -> list[Tensor]:
        return list(torch._foreach_sqrt(x))

    @staticmethod
    def maximum_(x: list[Tensor], other: list[Tensor]) -> None:
        torch._foreach_maximum_(x, other)

    @staticmethod
    def zero_(x: list[Tensor]) -> None:
        torch._foreach_zero_(x)
