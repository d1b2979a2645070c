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
    @staticmethod
    def clone(x: Tensors) -> Tensors: ...
    @staticmethod
    def mul_scalar(x: Tensors, scalar: Scalar) -> Tensors: ...
    @staticmethod
    def sub(x: Tensors, other: Tensors) -> Tensors: ...
    @staticmethod
    def lerp(x: Tensors, end: Tensors, weight: Scalar) -> Tensors: ...
    @staticmethod
    def sign_(x: Tensors) -> None: ...
    @staticmethod
    def mul(x: Tensors, other: Tensors) -> Tensors: ...
    @staticmethod
    def div(x: Tensors, other: Tensors) -> Tensors: ...
    @staticmethod
    def div_scalar(x: Tensors, scalar: Scalar) -> Tensors: ...
    @staticmethod
    def sqrt_(x: Tensors) -> None: ...
    @staticmethod
    def reciprocal_(x: Tensors) -> None: ...
    @staticmethod
    def rsqrt_(x: Tensors) -> None: ...
    @staticmethod
    def clamp_min_(x: Tensors, scalar: Scalar) -> None: ...
    @staticmethod
    def mul_tensor_(x: Tensors, other: Tensors) -> None: ...
    @staticmethod
    def div_tensor_(x: Tensors, other: Tensors) -> None: ...
    @staticmethod
    def rdiv(x: Tensors, numerator: Tensors) -> Tensors: ...
    @staticmethod
    def mul_each_(x: Tensors, scalars: Any) -> None: ...
    @staticmethod
    def norms(x: Tensors) -> Any: ...
    @staticmethod
    def each(function: Any, *args: Tensors) -> Any: ...


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

    @staticmethod
    def clone(x: Tensor) -> Tensor:
        return x.clone()

    @staticmethod
    def mul_scalar(x: Tensor, scalar: Scalar) -> Tensor:
        return x * _like(scalar, x)

    @staticmethod
    def sub(x: Tensor, other: Tensor) -> Tensor:
        return x - other

    @staticmethod
    def lerp(x: Tensor, end: Tensor, weight: Scalar) -> Tensor:
        return x.lerp(end, _like(weight, x))

    @staticmethod
    def sign_(x: Tensor) -> None:
        x.sign_()

    @staticmethod
    def mul(x: Tensor, other: Tensor) -> Tensor:
        return x * other

    @staticmethod
    def div(x: Tensor, other: Tensor) -> Tensor:
        return x / other

    @staticmethod
    def div_scalar(x: Tensor, scalar: Scalar) -> Tensor:
        return x / _like(scalar, x)

    @staticmethod
    def sqrt_(x: Tensor) -> None:
        x.sqrt_()

    @staticmethod
    def reciprocal_(x: Tensor) -> None:
        x.reciprocal_()

    @staticmethod
    def rsqrt_(x: Tensor) -> None:
        x.rsqrt_()

    @staticmethod
    def clamp_min_(x: Tensor, scalar: Scalar) -> None:
        x.clamp_(min=_like(scalar, x))

    @staticmethod
    def mul_tensor_(x: Tensor, other: Tensor) -> None:
        x.mul_(other)

    @staticmethod
    def div_tensor_(x: Tensor, other: Tensor) -> None:
        x.div_(other)

    @staticmethod
    def rdiv(x: Tensor, numerator: Tensor) -> Tensor:
        """numerator / x, written over x (a temporary): no new tensor."""
        return torch.div(numerator, x, out=x)

    @staticmethod
    def mul_each_(x: Tensor, scalars: Scalar) -> None:
        """Multiply by this tensor's own scalar (a float or a 0-dim tensor)."""
        x.mul_(scalars)

    @staticmethod
    def norms(x: Tensor) -> Tensor:
        """The tensor's L2 norm, as a 0-dim tensor."""
        return torch.linalg.vector_norm(x)

    @staticmethod
    def each(function: Any, *args: Any) -> Any:
        """`function` of one tensor (and its partners): the per-tensor maths of a rule."""
        return function(*args)


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

    @staticmethod
    def clone(x: list[Tensor]) -> list[Tensor]:
        return [t.clone() for t in x]

    @staticmethod
    def mul_scalar(x: list[Tensor], scalar: float) -> list[Tensor]:
        return list(torch._foreach_mul(x, scalar))

    @staticmethod
    def sub(x: list[Tensor], other: list[Tensor]) -> list[Tensor]:
        return list(torch._foreach_sub(x, other))

    @staticmethod
    def lerp(x: list[Tensor], end: list[Tensor], weight: float) -> list[Tensor]:
        return list(torch._foreach_lerp(x, end, weight))

    @staticmethod
    def sign_(x: list[Tensor]) -> None:
        torch._foreach_sign_(x)

    @staticmethod
    def mul(x: list[Tensor], other: list[Tensor]) -> list[Tensor]:
        return list(torch._foreach_mul(x, other))

    @staticmethod
    def div(x: list[Tensor], other: list[Tensor]) -> list[Tensor]:
        return list(torch._foreach_div(x, other))

    @staticmethod
    def div_scalar(x: list[Tensor], scalar: float) -> list[Tensor]:
        return list(torch._foreach_div(x, scalar))

    @staticmethod
    def sqrt_(x: list[Tensor]) -> None:
        torch._foreach_sqrt_(x)

    @staticmethod
    def reciprocal_(x: list[Tensor]) -> None:
        torch._foreach_reciprocal_(x)

    @staticmethod
    def rsqrt_(x: list[Tensor]) -> None:
        torch._foreach_rsqrt_(x)

    @staticmethod
    def clamp_min_(x: list[Tensor], scalar: float) -> None:
        torch._foreach_clamp_min_(x, scalar)

    @staticmethod
    def mul_tensor_(x: list[Tensor], other: list[Tensor]) -> None:
        torch._foreach_mul_(x, other)

    @staticmethod
    def div_tensor_(x: list[Tensor], other: list[Tensor]) -> None:
        torch._foreach_div_(x, other)

    @staticmethod
    def rdiv(x: list[Tensor], numerator: list[Tensor]) -> list[Tensor]:
        """numerator / x, as new tensors (foreach has no in-place form of this)."""
        return list(torch._foreach_div(numerator, x))

    @staticmethod
    def mul_each_(x: list[Tensor], scalars: list[Any]) -> None:
        """Multiply each tensor by its own scalar (floats, or 0-dim tensors)."""
        torch._foreach_mul_(x, scalars)

    @staticmethod
    def norms(x: list[Tensor]) -> list[Tensor]:
        """Each tensor's L2 norm, as 0-dim tensors."""
        return list(torch._foreach_norm(x))

    @staticmethod
    def each(function: Any, *args: list[Any]) -> list[Any]:
        """`function` applied tensor by tensor: the per-tensor maths of a rule."""
        return [function(*items) for items in zip(*args, strict=True)]
