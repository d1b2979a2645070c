"""A bucket: the unit both the generic chain and torch's fused kernels update in one pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor


@dataclass
class Bucket:
    """Parameters of one group that can be updated by the same multi-tensor calls."""

    params: list[Tensor] = field(default_factory=list)
    grads: list[Tensor] = field(default_factory=list)
    buffers: dict[str, list[Tensor]] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)
