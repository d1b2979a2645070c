"""`ChainedOptimizer`: a torch.optim.Optimizer that runs a chain of transforms over each group.

A named optimizer is a subclass that declares its `chain` and `default_hyperparameters`:

    class Adam(ChainedOptimizer):
        chain = (CoupledWeightDecay(), FirstMomentEMA(), SecondMomentEMA(), BiasCorrection(),
                 ScaleByRootSecondMoment(), DescentStep())
        default_hyperparameters = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                                   "weight_decay": 0.0}

Hyperparameters live in `param_groups` (LR schedulers and Lightning work unchanged) and state
in `self.state[p]` under torch's names, so `state_dict()` round-trips. The same chain runs
through one of several implementations (`impl`), all computing the same math:

- "reference": one parameter at a time, plain tensor methods: the readable definition.
- "foreach": parameters bucketed by device, dtype, size and step; multi-tensor
  torch._foreach_* ops.
- "fused": torch's fused kernel, for the chains it implements exactly (Adam, AdamW, AMSGrad,
  SGD with or without momentum/Nesterov, Adagrad); matched by comparing chains, so a modified
  chain never silently runs a kernel for a different rule.
- "compile": torch.compile of the reference path (one fused loop per tensor). The first steps
  pay the compile time, which grows with the number of tensors: for few, large tensors.
- "auto" (default): "fused" where torch has a kernel for the chain and device; otherwise, on
  CPU, "reference" for tensors of LARGE_ON_CPU elements or more and "foreach" for smaller
  ones (as torch defaults to its for-loop on CPU), and "foreach" on GPU.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer, ParamsT

from research.optim.bucket import Bucket
from research.optim.fused import FusedKernel, fused_kernel
from research.optim.ops import ForeachOps, Scalar, TensorOps
from research.optim.transforms import StepContext, Transform, chain_bounds
from research.optim.validation import Bound

Impl = Literal["auto", "fused", "foreach", "reference", "compile"]

# On CPU, updating a tensor through the whole chain before the next keeps it in cache, which
# beats one multi-tensor call per op for tensors above a few thousand elements; below, the
# per-tensor Python overhead dominates (crossover measured at 3-10K on a 2-core Xeon).
LARGE_ON_CPU = 4096


@dataclass
class SecondMomentRecord:
    """What one step of a param group divided by, kept for diagnostics when asked for."""

    step: int  # the t the update used (1 for a chain that restarts every step)
    tensors: list[Tensor] = field(default_factory=list)  # v (or max v, or Adagrad's sum)
    correction: float | None = None  # 1 - beta2^t if v was bias-corrected
    eps: float | None = None


class ChainedOptimizer(Optimizer):
    """Base class of the project's optimizers: subclasses only declare a chain and defaults."""

    chain: ClassVar[tuple[Transform, ...]] = ()
    default_hyperparameters: ClassVar[Mapping[str, float]] = {}
    _bounds: ClassVar[dict[str, Bound]] = {}  # derived from the chain, per subclass
    _initial_scalars: ClassVar[dict[str, float]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bounds = chain_bounds(cls.chain)
        if set(bounds) != set(cls.default_hyperparameters):
            raise TypeError(
                f"{cls.__name__}.default_hyperparameters has {sorted(cls.default_hyperparameters)}"
                f" but its chain reads {sorted(bounds)}"
            )
        for name, value in cls.default_hyperparameters.items():
            bounds[name].check(value, cls.__name__)
        cls._bounds = bounds
        cls._initial_scalars = {k: v for t in cls.chain for k, v in t.initial_scalars().items()}
        cls.__signature__ = inspect.Signature(  # what help() and IDEs show
            [inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            + [
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
                for name, value in cls.default_hyperparameters.items()
            ]
            + [inspect.Parameter("impl", inspect.Parameter.KEYWORD_ONLY, default="auto")]
        )

    def __init__(self, params: ParamsT, *, impl: Impl = "auto", **hyperparameters: float) -> None:
        name = type(self).__name__
        unknown = sorted(set(hyperparameters) - set(self.default_hyperparameters))
        if unknown:
            expected = ", ".join(self.default_hyperparameters)
            raise TypeError(f"{name} got unknown hyperparameter(s) {unknown}; it takes {expected}")
        if impl not in get_args(Impl):
            raise ValueError(f"impl={impl!r} is not one of {get_args(Impl)}")
        if impl == "fused" and fused_kernel(self.chain) is None:
            raise ValueError(f"impl='fused': torch has no fused kernel for {name}'s chain")
        self.impl: Impl = impl
        self._init_transient()
        super().__init__(params, {**self.default_hyperparameters, **hyperparameters})

    def _init_transient(self) -> None:
        self._fused: FusedKernel | None = fused_kernel(self.chain)
        self._record_next_step = False
        self._compiled: dict[tuple[Any, ...], Callable[..., None]] = {}
        self.last_records: list[SecondMomentRecord] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "impl": self.impl}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._init_transient()

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group, checking its hyperparameters first (a bad one leaves no trace)."""
        for name, bound in self._bounds.items():
            bound.check(param_group.get(name, self.defaults[name]), type(self).__name__)
        super().add_param_group(param_group)

    def record_next_step(self) -> None:
        """Keep what the next step divides by in `last_records` (one entry per group).

        Diagnostics call this only on the steps they log, so it costs nothing otherwise. A
        recorded step runs the eager chain even when `impl` is "fused" or "compile": same math,
        possibly different float rounding.
        """
        self._record_next_step = True

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # read after the closure: Lightning's on_before_optimizer_step runs inside it
        recording, self._record_next_step = self._record_next_step, False
        records = [self._step_group(group, recording) for group in self.param_groups]
        self.last_records = records if recording else None
        return loss

    def _step_group(self, group: dict[str, Any], recording: bool) -> SecondMomentRecord:
        zero = {name: group[name] == 0 for name in self._bounds}
        record = SecondMomentRecord(step=0)
        for bucket in self._buckets(group, zero):
            scalars = {"t": bucket.states[0]["step"]}
            scalars.update((name, bucket.states[0][name]) for name in self._initial_scalars)
            for transform in self.chain:
                transform.prepare(scalars, group)
            for state in bucket.states:
                state.update((name, scalars[name]) for name in self._initial_scalars)
            impl = self._resolve_impl(bucket, recording)
            if impl == "fused":
                self._fused(bucket, group, scalars["t"])  # type: ignore[misc]
            elif impl == "compile":
                self._compiled_step(bucket, group, zero, scalars)
            elif impl == "foreach":
                ctx = _run_chain(
                    self.chain,
                    ForeachOps,
                    bucket.params,
                    bucket.grads,
                    bucket.buffers,
                    hp=group,
                    zero=zero,
                    scalars=scalars,
                )
                _extend_record(record, ctx, ctx.second_moment)
            else:
                for i, (param, grad) in enumerate(zip(bucket.params, bucket.grads, strict=True)):
                    buffers = {name: tensors[i] for name, tensors in bucket.buffers.items()}
                    ctx = _run_chain(
                        self.chain,
                        TensorOps,
                        param,
                        grad,
                        buffers,
                        hp=group,
                        zero=zero,
                        scalars=scalars,
                    )
                    _extend_record(record, ctx, [ctx.second_moment])
        return record

    def _buckets(self, group: dict[str, Any], zero: Mapping[str, bool]) -> Iterable[Bucket]:
        """Parameters with a gradient, their state made ready and their step counted, grouped
        so that each bucket can share one call per op: same device, dtype and scalar state."""
        buffer_names = [name for transform in self.chain for name in transform.buffers(zero)]
        buckets: dict[tuple[Any, ...], Bucket] = {}
        for param in group["params"]:
            if param.grad is None:
                continue
            if param.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            state = self.state[param]
            if not state:
                state.update(step=0, **self._initial_scalars)
            for name in buffer_names:
                if name not in state:
                    state[name] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["step"] += 1
            key = (
                param.device,
                param.dtype,
                param.numel() >= LARGE_ON_CPU,
                state["step"],
                *(state[k] for k in self._initial_scalars),
            )
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = Bucket(buffers={name: [] for name in buffer_names})
            bucket.params.append(param)
            bucket.grads.append(param.grad)
            bucket.states.append(state)
            for name in buffer_names:
                bucket.buffers[name].append(state[name])
        return buckets.values()

    def _resolve_impl(self, bucket: Bucket, recording: bool) -> Impl:
        impl = self.impl
        if impl == "auto":
            param = bucket.params[0]
            if self._fused is not None and self._fused.supports(param):
                impl = "fused"
            elif param.device.type == "cpu" and param.numel() >= LARGE_ON_CPU:
                impl = "reference"
            else:
                impl = "foreach"
        if recording and impl in ("fused", "compile"):
            return "foreach"  # the eager chain fills the record
        return impl

    def _compiled_step(
        self,
        bucket: Bucket,
        group: Mapping[str, Any],
        zero: Mapping[str, bool],
        scalars: Mapping[str, float],
    ) -> None:
        # one compiled function per bucket: torch.compile caches per code object and stops
        # recompiling one after 8 variants, which a few groups and shapes would reach
        key = (tuple(map(id, bucket.params)), tuple(zero.items()))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = torch.compile(_copy(_run_chain_per_tensor), fullgraph=True, dynamic=False)
            self._compiled[key] = compiled

        def as_tensor(value: float) -> Tensor:
            return torch.tensor(value, dtype=torch.float64)

        compiled(
            self.chain,
            bucket.params,
            bucket.grads,
            bucket.buffers,
            {name: as_tensor(group[name]) for name in zero},
            zero,
            {name: as_tensor(value) for name, value in scalars.items()},
        )


def _run_chain(
    chain: tuple[Transform, ...],
    ops: Any,
    params: Any,
    grads: Any,
    buffers: Mapping[str, Any],
    *,
    hp: Mapping[str, Scalar],
    zero: Mapping[str, bool],
    scalars: Mapping[str, Scalar],
) -> StepContext:
    ctx = StepContext(ops, params, grads, buffers, hp, zero, scalars)
    for transform in chain:
        transform.apply(ctx)
    return ctx


def _run_chain_per_tensor(
    chain: tuple[Transform, ...],
    params: list[Tensor],
    grads: list[Tensor],
    buffers: Mapping[str, list[Tensor]],
    hp: Mapping[str, Tensor],
    zero: Mapping[str, bool],
    scalars: Mapping[str, Tensor],
) -> None:
    """The reference path over a bucket, as one function for torch.compile to fuse."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        tensor_buffers = {name: tensors[i] for name, tensors in buffers.items()}
        _run_chain(
            chain,
            TensorOps,
            param,
            grad,
            tensor_buffers,
            hp=hp,
            zero=zero,
            scalars=scalars,
        )


def _extend_record(record: SecondMomentRecord, ctx: StepContext, tensors: list[Any]) -> None:
    record.step = int(ctx.scalars["t"])
    if ctx.second_moment is not None:
        record.tensors.extend(tensors)
        record.correction = ctx.second_moment_correction
        record.eps = ctx.eps


def _copy(function: Callable[..., Any]) -> Callable[..., Any]:
    """The same function with its own code object, hence its own torch.compile cache."""
    return types.FunctionType(function.__code__.replace(), function.__globals__)
