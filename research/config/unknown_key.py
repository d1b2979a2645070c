"""A key the config does not have (`optimizer.lrr=0.1`), said in one line before Hydra runs.

Hydra refuses it after composing, in six lines ending with a hint about HYDRA_FULL_ERROR. The
entry points first compose the command's groups (a swept group at its first option) and its
additions and deletions with Hydra's compose API, about 0.1 s, then look up every key the
command changes, swept or not: one that is not there is one line naming the keys beside it,
exit status 2. Anything else (a syntax error, an addition of a key that exists, Hydra's own
`hydra.*` keys, configs read from elsewhere with `--config-path` or a search path) is left to
Hydra's own message.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override, OverrideType
from omegaconf import DictConfig, ListConfig, OmegaConf

from research.config.group_options import CONF, config_dirs


def _is_group(override: Override, conf: Path) -> bool:
    group = override.key_or_group
    return group == "hydra" or group.startswith("hydra/") or (conf / group).is_dir()


def _composed(override: Override, conf: Path) -> str | None:
    """How the override takes part in the composition: as written, a swept group at its first
    option, "" for a changed key (looked up afterwards), None for a group swept by a function
    (no first option: the check cannot know the config)."""
    if not _is_group(override, conf):
        changes = override.type == OverrideType.CHANGE
        return "" if changes or override.is_sweep_override() else override.input_line
    if not override.is_sweep_override():
        return override.input_line
    sweep = override.value()
    if isinstance(sweep, ChoiceSweep) and not sweep.shuffle and sweep.list:
        return f"{override.get_key_element()}={sweep.list[0]}"
    return None


def _exists(config: DictConfig, key: str) -> bool:
    parent, _, name = key.rpartition(".")
    node = OmegaConf.select(config, parent, throw_on_resolution_failure=False) if parent else config
    if isinstance(node, DictConfig):
        return name in set(node.keys())  # `in` alone misses a key whose value is ???
    if isinstance(node, ListConfig):
        return name.isdigit() and int(name) < len(node)
    return False


def _line(config: DictConfig, key: str, value: str) -> str:
    """The one line: the first missing part of the key, the keys beside it, how to add one."""
    parts = key.split(".")
    depth = next(i for i in range(len(parts)) if not _exists(config, ".".join(parts[: i + 1])))
    parent, name = ".".join(parts[:depth]), parts[depth]
    node = OmegaConf.select(config, parent, throw_on_resolution_failure=False) if parent else config
    add = f"to add a key, prefix it with +: +{key}={value}"
    if not isinstance(node, DictConfig):
        return f"{key} is not a key of the config: {parent} holds a value, not keys ({add})"
    if "_target_" in node:  # an object's keys are its class's arguments: adding one fails there
        add = f"the arguments of {node._target_}"
    keys = sorted(str(k) for k in node)
    close = difflib.get_close_matches(name, keys, n=1)
    hint = f"did you mean {parent + '.' if parent else ''}{close[0]}? " if close else ""
    where = f"{parent} has" if parent else "the config has"
    return f"{key} is not a key of the config: {hint}{where} {', '.join(keys)} ({add})"


def unknown_key(arguments: list[str], config_name: str, conf: Path = CONF) -> str | None:
    """The line naming the first changed key the composed config lacks; None when every key
    exists, or when the check steps aside for Hydra."""
    if config_dirs(arguments) != []:  # configs from elsewhere too: Hydra alone knows them
        return None
    args, _ = get_args_parser().parse_known_args(arguments)
    try:
        overrides = OverridesParser.create().parse_overrides(args.overrides)
    except Exception:  # a syntax error: Hydra's own message says where
        return None
    composed = [_composed(o, conf) for o in overrides]
    if None in composed or "" not in composed:  # unknowable, or no key changed: nothing to check
        return None
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            config = compose(args.config_name or config_name, [c for c in composed if c])
    except Exception:  # e.g. an addition of a key that exists: Hydra's own message
        return None
    finally:
        GlobalHydra.instance().clear()
    for override, role in zip(overrides, composed, strict=True):
        key = override.key_or_group
        changed = role == "" and override.type == OverrideType.CHANGE
        if changed and not key.startswith("hydra.") and not _exists(config, key):
            return _line(config, key, override.input_line.partition("=")[2])
    return None


def refuse_unknown_key(arguments: list[str], config_name: str) -> None:
    """For an entry point, before Hydra runs: the one line and exit status 2 of a bad key."""
    if problem := unknown_key(arguments, config_name):
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
