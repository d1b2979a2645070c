"""The `search_space` form of older Hydra Optuna sweeper configs, as `params` sweep syntax:

search_space:
  optimizer.lr: {type: float, low: 1.0e-5, high: 1.0e-1, log: true}
  model.width: {type: int, low: 32, high: 256, step: 32}
  optimizer: {type: categorical, choices: [adam, sgd]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from research.config.errors import ConfigError

TYPES = ("float", "int", "categorical")


def legacy_params(search_space: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    return {key: _as_sweep(key, dict(spec)) for key, spec in search_space.items()}


def _as_sweep(key: str, spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if kind == "categorical":
        return "choice(" + ", ".join(_text(c) for c in spec["choices"]) + ")"
    if kind not in TYPES or "low" not in spec or "high" not in spec:
        raise ConfigError(
            f"hydra.sweeper.search_space.{key}: needs type ({', '.join(TYPES)}) and low/high "
            "(or choices for categorical)"
        )
    low, high, step, log = spec["low"], spec["high"], spec.get("step"), spec.get("log", False)
    if kind == "int":  # Optuna's high is included, Hydra's range end is not
        sweep = f"range({int(low)}, {int(high) + int(step or 1)}, {int(step or 1)})"
    elif step is not None:
        sweep = f"range({float(low)}, {float(high) + float(step) / 2}, {float(step)})"
    else:
        sweep = f"interval({float(low)}, {float(high)})"
    return f"tag(log, {sweep})" if log else sweep


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
