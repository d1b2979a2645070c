"""`ChainedOptimizer`: a torch.optim.Optimizer that runs a chain of transforms over each group.

A named optimizer is a subclass that declares its `chain` and `default_hyperparameters`:

    class Adam(ChainedOptimizer):
        chain = (CoupledWeightDecay(), FirstMomentEMA(), SecondMomentEMA(), BiasCorrection(),
                 ScaleByRootSecondMoment(), DescentStep())
        default_hyperparameters = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                                   "weight_decay": 0.0}

Hyperparameters live in `param_groups` (LR schedulers and Lightning work unchanged) and state
in `self.state[p]` under torch's names, so `state_dict()` round-trips; a rule's per-group
scalars (Schedule-Free's weight sum, Prodigy's d) live in the param group too, as their
authors' code keeps them. The same chain runs through one of several implementations
(`impl`), all computing the same math:

- "reference": one parameter at a time, plain tensor methods: the readable definition.
- "foreach": parameters bucketed by device, dtype, size, step and state layout; multi-tensor
  torch._foreach_* ops.
- "fused": torch's fused kernel, for the chains it implements exactly (Adam, AdamW, AMSGrad,
  SGD with or without momentum/Nesterov, Adagrad); matched by comparing chains, so a modified
  chain never silently runs a kernel for a different rule.
- "compile": torch.compile of the reference path (one fused loop per tensor). The first steps
  pay the compile time, which grows with the number of tensors: for few, large tensors. Only
  for chains of elementwise transforms (`Transform.compilable`).
- "auto" (default): "fused" where torch has a kernel for the chain and device; otherwise, on
  CPU, "foreach" for tensors under LARGE_ON_CPU elements and "chunked" for larger ones:
  multi-tensor calls over runs of consecutive tensors of up to CHUNK_ON_CPU elements in all,
  which stay in cache through the whole chain, and a tensor larger than that on its own, as
  "reference" does; "foreach" on GPU. A chain whose foreach path is only equal to rounding
  (Muon's) runs tensor by tensor everywhere.

A chain with a synchronizing transform (Prodigy) runs up to it for every parameter of every
group, lets it `reduce` what they left, then runs the rest.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, ClassVar, Literal, get_args

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer, ParamsT

from research.optim.bucket import Bucket
from research.optim.fused import FusedKernel, fused_kernel
from research.optim.ops import ForeachOps, TensorOps
from research.optim.transforms import StepContext, Transform, chain_bounds
from research.optim.validation import Hyperparameter

Impl = Literal["auto", "fused", "foreach", "reference", "compile"]
Path = Literal["fused", "foreach", "reference", "compile", "chunked"]  # what a bucket runs

# On CPU, updating a tensor through the whole chain before the next keeps it in cache, which
# beats one multi-tensor call per op over a whole bucket for tensors above a few thousand
# elements; below, the per-tensor Python overhead dominates (crossover measured at 3-10K on a
# 2-core Xeon). Between the two, runs of tensors of up to CHUNK_ON_CPU elements in all (512 KB
# of float32) share each call and still stay in cache: 1,000 tensors of 10K elements step
# 10-30% faster that way than one by one.
LARGE_ON_CPU = 4096
CHUNK_ON_CPU = 1 << 17


@dataclass
class SecondMomentRecord:
    """What one step of a param group divided by, kept for diagnostics when asked for."""

    step: int  # the t the update used (1 for a chain that restarts every step)
    tensors: list[Tensor] = field(default_factory=list)  # v (or max v, or Adagrad's sum)
    correction: float | None = None  # 1 - beta2^t if v was bias-corrected
    eps: float | None = None
    scalars: dict[str, float] = field(default_factory=dict)  # the rule's own (Prodigy's d...)


@dataclass(frozen=True)
class ChainInfo:
    """What running a chain needs, worked out once per chain (`chain_info`)."""

    chain: tuple[Transform, ...]
    bounds: dict[str, Hyperparameter]
    initial_scalars: dict[str, float]
    group_state: dict[str, Any]
    segments: tuple[tuple[Transform, ...], ...]  # split after each synchronizing transform
    fused: FusedKernel | None
    compilable: bool
    per_tensor: bool  # impl="auto" runs it tensor by tensor everywhere (exact_per_tensor)
    _buffers: dict[tuple[Any, ...], dict[str, Transform]] = field(
        default_factory=dict, compare=False, hash=False
    )

    def buffers(self, param: Tensor, zero_key: tuple[Any, ...]) -> dict[str, Transform]:
        """The state tensors this parameter needs, each with the transform that makes it."""
        key = (param.dim(), zero_key)
        owners = self._buffers.get(key)
        if owners is None:
            zero = dict(zero_key)
            owners = {}
            for transform in self.chain:
                for name in transform.buffer_names(param, zero):
                    owners.setdefault(name, transform)
            self._buffers[key] = owners
        return owners


@functools.cache
def chain_info(chain: tuple[Transform, ...]) -> ChainInfo:
    segments: list[tuple[Transform, ...]] = []
    current: list[Transform] = []
    for transform in chain:
        current.append(transform)
        if transform.synchronizes:
            segments.append(tuple(current))
            current = []
    segments.append(tuple(current))
    return ChainInfo(
        chain=chain,
        bounds=chain_bounds(chain),
        initial_scalars={k: v for t in chain for k, v in t.initial_scalars().items()},
        group_state={k: v for t in chain for k, v in t.group_state().items()},
        segments=tuple(segments),
        fused=fused_kernel(chain),
        compilable=all(t.compilable and not t.synchronizes for t in chain),
        per_tensor=any(t.exact_per_tensor for t in chain),
    )


class ChainedOptimizer(Optimizer):
    """Base class of the project's optimizers: subclasses only declare a chain and defaults."""

    chain: ClassVar[tuple[Transform, ...]] = ()
    default_hyperparameters: ClassVar[Mapping[str, Any]] = {}
    _bounds: ClassVar[dict[str, Hyperparameter]] = {}  # the constructor's, per subclass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bounds = cls._constructor_bounds()
        if set(bounds) != set(cls.default_hyperparameters):
            raise TypeError(
                f"{cls.__name__}.default_hyperparameters has {sorted(cls.default_hyperparameters)}"
                f" but its chain reads {sorted(bounds)}"
            )
        for name, value in cls.default_hyperparameters.items():
            bounds[name].check(value, cls.__name__)
        cls._bounds = bounds
        cls.__signature__ = inspect.Signature(  # what help() and IDEs show
            [inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            + [
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
                for name, value in cls.default_hyperparameters.items()
            ]
            + [inspect.Parameter("impl", inspect.Parameter.KEYWORD_ONLY, default="auto")]
        )

    @classmethod
    def _constructor_bounds(cls) -> dict[str, Hyperparameter]:
        """Every keyword the constructor takes besides `impl`, with its allowed values."""
        return chain_bounds(cls.chain)

    @classmethod
    def _chains(cls) -> tuple[tuple[Transform, ...], ...]:
        """Every chain this optimizer runs (one, unless groups follow different rules)."""
        return (cls.chain,)

    def _chain_of(self, group: Mapping[str, Any]) -> tuple[Transform, ...]:
        """The chain that updates this group."""
        return self.chain

    def __init__(self, params: ParamsT, *, impl: Impl = "auto", **hyperparameters: Any) -> None:
        self._check_arguments(impl, hyperparameters)
        self.impl: Impl = impl
        self._init_transient()
        super().__init__(params, {**self.default_hyperparameters, **hyperparameters})

    @classmethod
    def _check_arguments(cls, impl: Impl, hyperparameters: Mapping[str, Any]) -> None:
        name = cls.__name__
        unknown = sorted(set(hyperparameters) - set(cls.default_hyperparameters))
        if unknown:
            expected = ", ".join(cls.default_hyperparameters)
            raise TypeError(f"{name} got unknown hyperparameter(s) {unknown}; it takes {expected}")
        if impl not in get_args(Impl):
            raise ValueError(f"impl={impl!r} is not one of {get_args(Impl)}")
        if impl == "fused" and chain_info(cls.chain).fused is None:
            raise ValueError(f"impl='fused': torch has no fused kernel for {name}'s chain")
        if impl == "compile" and not all(chain_info(c).compilable for c in cls._chains()):
            raise ValueError(
                f"impl='compile' is not available for {name}: its chain is not elementwise"
            )

    @classmethod
    def check_hyperparameters(cls, impl: Impl = "auto", **hyperparameters: Any) -> None:
        """Raise the error the constructor would for these values, before any parameter
        exists (the training pipeline calls it at start-up)."""
        cls._check_arguments(impl, hyperparameters)
        for name, value in hyperparameters.items():
            cls._bounds[name].check(value, cls.__name__)

    def _init_transient(self) -> None:
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
        info = chain_info(self._chain_of(param_group))
        for name, bound in info.bounds.items():
            bound.check(param_group.get(name, self.defaults.get(name)), type(self).__name__)
        for name, value in info.group_state.items():
            param_group.setdefault(name, value)
        super().add_param_group(param_group)

    def code_paths(self) -> list[str]:
        """How the next step runs, e.g. ["reference", "foreach"] (per group of tensors;
        prefixed by the rule where groups follow different rules, "adamw:fused")."""
        paths = set()
        for group in self.param_groups:
            info = chain_info(self._chain_of(group))
            prefix = f"{group['rule']}:" if "rule" in group else ""
            for param in group["params"]:
                impl = self._resolve_impl(Bucket(params=[param]), False, info)
                paths.add(prefix + impl)
        return sorted(paths)

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
        records = [SecondMomentRecord(step=0) for _ in self.param_groups]
        pending: list[tuple[SecondMomentRecord, ChainInfo, list[StepContext]]] = []
        prepared: list[tuple[ChainInfo, dict[str, Any]]] = []
        for group, record in zip(self.param_groups, records, strict=True):
            info = chain_info(self._chain_of(group))
            zero = {name: group[name] == 0 for name in info.bounds}
            group_scalars: dict[str, Any] = {}
            for transform in info.chain:
                transform.prepare_group(group_scalars, group, self.param_groups)
            scalars = group_scalars
            for bucket in self._buckets(group, zero, info):
                scalars = {**group_scalars, "t": bucket.states[0]["step"]}
                scalars.update((name, bucket.states[0][name]) for name in info.initial_scalars)
                for transform in info.chain:
                    transform.prepare(scalars, group)
                for state in bucket.states:
                    state.update((name, scalars[name]) for name in info.initial_scalars)
                contexts = self._run_bucket(bucket, group, zero, scalars, info, recording, record)
                if contexts:
                    pending.append((record, info, contexts))
            prepared.append((info, scalars))
        if pending:
            self._synchronize(pending)
        if recording:
            for (info, scalars), group, record in zip(
                prepared, self.param_groups, records, strict=True
            ):
                for transform in info.chain:
                    record.scalars.update(transform.diagnostics(scalars, group))
        self.last_records = records if recording else None
        return loss

    def _run_bucket(
        self,
        bucket: Bucket,
        group: dict[str, Any],
        zero: Mapping[str, bool],
        scalars: Mapping[str, Any],
        info: ChainInfo,
        recording: bool,
        record: SecondMomentRecord,
    ) -> list[StepContext]:
        """Run the chain's first segment on a bucket; the contexts that wait for a
        synchronizing transform are returned (none for most chains)."""
        impl = self._resolve_impl(bucket, recording, info)
        if impl == "fused":
            info.fused(bucket, group, scalars["t"])  # type: ignore[misc]
            return []
        if impl == "compile":
            self._compiled_step(bucket, group, zero, scalars, info)
            return []
        first, *rest = info.segments
        waiting = []
        for ctx in self._contexts(bucket, group, zero, scalars, impl):
            for transform in first:
                transform.apply(ctx)
            if rest:
                waiting.append(ctx)
            else:
                _extend_record(record, ctx)
        return waiting

    @staticmethod
    def _contexts(
        bucket: Bucket,
        group: Mapping[str, Any],
        zero: Mapping[str, bool],
        scalars: Mapping[str, Any],
        impl: Path,
    ) -> Iterator[StepContext]:
        """One context for the whole bucket (foreach), one per run of tensors (chunked), or
        one per tensor, made as they are used so that a tensor's temporaries are freed before
        the next one's."""
        if impl == "foreach":
            yield StepContext(
                ForeachOps, bucket.params, bucket.grads, bucket.buffers, group, zero, scalars
            )
            return
        if impl == "chunked":
            for start, stop in _chunks(bucket.params):
                if stop - start > 1:
                    buffers = {
                        name: tensors[start:stop] for name, tensors in bucket.buffers.items()
                    }
                    yield StepContext(
                        ForeachOps,
                        bucket.params[start:stop],
                        bucket.grads[start:stop],
                        buffers,
                        group,
                        zero,
                        scalars,
                    )
                else:
                    buffers = {name: tensors[start] for name, tensors in bucket.buffers.items()}
                    grad = bucket.grads[start]
                    yield StepContext(
                        TensorOps, bucket.params[start], grad, buffers, group, zero, scalars
                    )
            return
        for i, (param, grad) in enumerate(zip(bucket.params, bucket.grads, strict=True)):
            buffers = {name: tensors[i] for name, tensors in bucket.buffers.items()}
            yield StepContext(TensorOps, param, grad, buffers, group, zero, scalars)

    def _synchronize(self, pending: list[tuple[SecondMomentRecord, ChainInfo, list[StepContext]]]):
        """Run the segments after the first: each synchronizing transform reduces over every
        context of every group, then the next segment runs on each of them."""
        segments = pending[0][1].segments
        if any(info.segments != segments for _, info, _ in pending):
            raise RuntimeError("a chain that synchronizes must be the same for every group")
        contexts = [ctx for _, _, group_contexts in pending for ctx in group_contexts]
        for done, segment in itertools.pairwise(segments):
            if not done[-1].reduce(contexts, self.param_groups):
                return
            for ctx in contexts:
                for transform in segment:
                    transform.apply(ctx)
        for record, _, group_contexts in pending:
            for ctx in group_contexts:
                _extend_record(record, ctx)

    def _buckets(
        self, group: dict[str, Any], zero: Mapping[str, bool], info: ChainInfo
    ) -> Iterable[Bucket]:
        """Parameters with a gradient, their state made ready and their step counted, grouped
        so that each bucket can share one call per op: same device, dtype, scalar state and
        state layout."""
        zero_key = tuple(zero.items())
        buckets: dict[tuple[Any, ...], Bucket] = {}
        for param in group["params"]:
            if param.grad is None:
                continue
            if param.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            state = self.state[param]
            if not state:
                state.update(step=0, **info.initial_scalars)
            owners = info.buffers(param, zero_key)
            for name, owner in owners.items():
                if name not in state:
                    state[name] = owner.make_buffer(name, param)
            state["step"] += 1
            key = (
                param.device,
                param.dtype,
                param.numel() >= LARGE_ON_CPU,
                state["step"],
                *(state[k] for k in info.initial_scalars),
                id(owners),  # the state layout (one cached dict per layout)
            )
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = Bucket(buffers={name: [] for name in owners})
            bucket.params.append(param)
            bucket.grads.append(param.grad)
            bucket.states.append(state)
            for name in owners:
                bucket.buffers[name].append(state[name])
        return buckets.values()

    def _resolve_impl(self, bucket: Bucket, recording: bool, info: ChainInfo) -> Path:
        impl = self.impl
        if impl == "auto":
            param = bucket.params[0]
            if info.fused is not None and info.fused.supports(param):
                impl = "fused"
            elif info.per_tensor:
                impl = "reference"
            elif param.device.type == "cpu" and param.numel() >= LARGE_ON_CPU:
                impl = "chunked"
            else:
                impl = "foreach"
        elif impl == "fused" and info.fused is None:  # a group whose rule has no kernel
            impl = "foreach"
        if recording and impl in ("fused", "compile"):
            return "foreach"  # the eager chain fills the record
        return impl

    def _compiled_step(
        self,
        bucket: Bucket,
        group: Mapping[str, Any],
        zero: Mapping[str, bool],
        scalars: Mapping[str, Any],
        info: ChainInfo,
    ) -> None:
        # Numbers arrive as 0-dim tensors, so a changing lr or bias correction does not
        # recompile; flags and choices select code and are part of the key instead.
        static = tuple((name, group[name]) for name in zero if not _is_number(group[name]))
        # one compiled function per bucket: torch.compile caches per code object and stops
        # recompiling one after 8 variants, which a few groups and shapes would reach
        key = (tuple(map(id, bucket.params)), tuple(zero.items()), static)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = torch.compile(_copy(_run_chain_per_tensor), fullgraph=True, dynamic=False)
            self._compiled[key] = compiled
        compiled(
            info.chain,
            bucket.params,
            bucket.grads,
            bucket.buffers,
            {name: _as_tensor(group[name]) for name in zero},
            zero,
            {name: _as_tensor(value) for name, value in scalars.items()},
        )


def _chunks(params: list[Tensor]) -> Iterator[tuple[int, int]]:
    """Runs of consecutive tensors of at most CHUNK_ON_CPU elements in all (a larger tensor
    alone): what one multi-tensor call can update while it stays in cache."""
    start, size = 0, 0
    for i, param in enumerate(params):
        if i > start and size + param.numel() > CHUNK_ON_CPU:
            yield start, i
            start, size = i, 0
        size += param.numel()
    if params:
        yield start, len(params)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _as_tensor(value: Any) -> Any:
    return torch.tensor(value, dtype=torch.float64) if _is_number(value) else value


def _run_chain_per_tensor(
    chain: tuple[Transform, ...],
    params: list[Tensor],
    grads: list[Tensor],
    buffers: Mapping[str, list[Tensor]],
    hp: Mapping[str, Any],
    zero: Mapping[str, bool],
    scalars: Mapping[str, Any],
) -> None:
    """The reference path over a bucket, as one function for torch.compile to fuse."""
    for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
        tensor_buffers = {name: tensors[i] for name, tensors in buffers.items()}
        ctx = StepContext(TensorOps, param, grad, tensor_buffers, hp, zero, scalars)
        for transform in chain:
            transform.apply(ctx)


def _extend_record(record: SecondMomentRecord, ctx: StepContext) -> None:
    record.step = int(ctx.scalars["t"])
    if ctx.second_moment is not None:
        moments = ctx.second_moment
        record.tensors.extend(moments if isinstance(moments, list) else [moments])
        record.correction = ctx.second_moment_correction
        record.eps = ctx.eps


def _copy(function: Callable[..., Any]) -> Callable[..., Any]:
    """The same function with its own code object, hence its own torch.compile cache."""
    return types.FunctionType(function.__code__.replace(), function.__globals__)
