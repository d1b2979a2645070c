"""A study holds one experiment: the fixed part of the config that created it.

Trials of different experiments (another dataset, model, epoch budget, objective, seed) in one
study would feed one model of the search space and one "best". So a study records, when it is
created, the fixed part of its trials' config: the first trial's composed config less the
searched keys and less what does not change what a trial measures (where files go, loggers,
callbacks, threads, the checkpoint to resume from, tags, steps per Lightning batch, the test
split evaluated after training, and the trainer's display settings). The run's `seed` is part
of the experiment unless it is searched. A sweep whose fixed part differs is refused in one
line that names the difference and a study name of its own.

Values are compared resolved (`model.width: ${oc.env:W}` is the number it gave); a value that
refers to a key left out (`data.data_dir: ${paths.data_dir}/x`) or searched is compared as
written, so it never differs between machines or trials; one that only repeats another key
(`data.seed: ${seed}`) is left to that key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from optuna.storages import BaseStorage

from research.config.errors import ConfigError

log = logging.getLogger(__name__)

FIXED_ATTR = "fixed_config"  # study user attribute: {"choices": {...}, "values": {...}}
# Top-level keys that do not change what a trial measures.
IGNORED_KEYS = (
    "hydra", "paths", "logger", "callbacks", "trial", "torch_threads", "ckpt_path", "tags",
    "task_name", "steps_per_batch", "test",
)  # fmt: skip
IGNORED_TRAINER_KEYS = (
    "default_root_dir", "enable_progress_bar", "enable_model_summary", "log_every_n_steps",
)  # fmt: skip
# Config groups whose choice is not part of the experiment (`hparams_search` names the search).
IGNORED_GROUPS = ("hydra", "paths", "logger", "callbacks", "hparams_search")
# A value that only repeats another key (`data.seed: ${seed}`): that key is compared instead.
REFERENCE = re.compile(r"\$\{[A-Za-z_][\w.]*\}")
SHOWN = 3  # differences named in the refusal
ABSENT = object()


def fixed_part(job: DictConfig, searched: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The fixed part of a trial's composed config (with its `hydra` node, for the group
    choices), as JSON-able {"choices": {group: option}, "values": {dotted.key: value}}."""
    searched_paths = [key.lstrip("+").replace("/", ".") for key in searched]
    choices = OmegaConf.to_container(job.hydra.runtime.choices) if "hydra" in job else {}
    kept_choices = {
        str(group): option
        for group, option in (choices or {}).items()  # type: ignore[union-attr]
        if not _ignored_group(str(group)) and str(group).replace("/", ".") not in searched_paths
    }
    plain = OmegaConf.to_container(job, resolve=False)
    assert isinstance(plain, dict)
    for key in IGNORED_KEYS:
        plain.pop(key, None)
    trainer = plain.get("trainer")
    if isinstance(trainer, dict):
        for key in IGNORED_TRAINER_KEYS:
            trainer.pop(key, None)
    for path in searched_paths:
        _delete(plain, path)
    resolvable = OmegaConf.create(plain)
    values = {
        path: _resolved(resolvable, path, raw)
        for path, raw in _leaves(plain, "")
        if not (isinstance(raw, str) and REFERENCE.fullmatch(raw))
    }
    return json.loads(json.dumps({"choices": kept_choices, "values": values}, default=str))


@dataclass(frozen=True)
class Difference:
    """What the study was made with and what this sweep has, as overrides (`data=mnist1d`)."""

    made: str
    now: str
    name_part: str  # for a suggested study name: `digits`, `max_epochs3`


def differences(made: Mapping[str, Any], now: Mapping[str, Any]) -> list[Difference]:
    """Differing values; those under a config group whose choice differs are named by the
    choice (`data=mnist1d` rather than each of the data node's keys)."""
    made_values, now_values = made.get("values", {}), now.get("values", {})
    keys = sorted(
        key
        for key in {*made_values, *now_values}
        if made_values.get(key, ABSENT) != now_values.get(key, ABSENT)
    )
    made_choices, now_choices = made.get("choices", {}), now.get("choices", {})
    found: list[Difference] = []
    explained: set[str] = set()
    for group in sorted({*made_choices, *now_choices}):
        before, after = made_choices.get(group), now_choices.get(group)
        node = group.replace("/", ".")
        under = {k for k in keys if k == node or k.startswith(node + ".")}
        if before == after or not under:
            continue
        explained |= under
        part = f"no-{group}" if after is None else str(after)
        found.append(Difference(_choice(group, before), _choice(group, after), part))
    for key in keys:
        if key not in explained:
            before, after = made_values.get(key, ABSENT), now_values.get(key, ABSENT)
            name_part = _name_part(key, after)
            found.append(Difference(_override(key, before), _override(key, after), name_part))
    return found


def suggested_name(study_name: str, found: list[Difference]) -> str:
    """The study name plus what this sweep has instead (`adam_betas_lr_digits`)."""
    parts = [re.sub(r"[^A-Za-z0-9_.-]+", "-", d.name_part).strip("-") for d in found[:2]]
    return "_".join([study_name, *(p for p in parts if p)])[:100]


def with_hash(study_name: str, fixed: Mapping[str, Any]) -> str:
    """A name no other experiment has: the study name plus a digest of the fixed part."""
    digest = hashlib.sha256(json.dumps(fixed, sort_keys=True).encode()).hexdigest()[:8]
    return f"{study_name}_{digest}"


def refusal(study_name: str, found: list[Difference], suggestion: str) -> str:
    shown, more = found[:SHOWN], len(found) - SHOWN
    tail = f" (and {more} more difference(s))" if more > 0 else ""
    return (
        f"study {study_name} holds another experiment: it was made with "
        f"{' '.join(d.made for d in shown)}, this sweep has {' '.join(d.now for d in shown)}"
        f"{tail}; give hydra.sweeper.study_name={suggestion} for a study of its own"
    )


def _ignored_group(group: str) -> bool:
    return any(group == g or group.startswith(g + "/") for g in IGNORED_GROUPS)


def _delete(tree: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    node: Any = tree
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


def _leaves(tree: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _leaves(value, path + ".")
        else:
            yield path, value


def _resolved(config: DictConfig, path: str, raw: Any) -> Any:
    try:
        value = OmegaConf.select(config, path, throw_on_resolution_failure=True)
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    except Exception:  # refers to a key left out or searched: as written
        return raw


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _name_part(key: str, value: Any) -> str:
    """`max_epochs3`, `gradient_clip_algorithm-norm`, `no-width` (a key this sweep lacks)."""
    last = key.rsplit(".", 1)[-1]
    if value is ABSENT:
        return f"no-{last}"
    return f"{last}{value}" if isinstance(value, (int, float)) else f"{last}-{_text(value)}"


def _choice(group: str, option: Any) -> str:
    return f"{group}={'null' if option is None else option}"


def _override(key: str, value: Any) -> str:
    return f"~{key}" if value is ABSENT else f"{key}={_text(value)}"


def check_experiment(
    storage: BaseStorage, study_id: int, study_name: str, fixed: Mapping[str, Any]
) -> None:
    """Refuse (ConfigError) a sweep whose fixed part differs from the one the study recorded; a
    study made before studies recorded it is taken as it is, with a warning."""
    made = storage.get_study_user_attrs(study_id).get(FIXED_ATTR)
    if made is None:
        log.warning(
            "Study %s was made before studies recorded their config: its trials are taken as "
            "this sweep's experiment", study_name,
        )  # fmt: skip
        return
    found = differences(made, fixed)
    if not found:
        return
    suggestion = suggested_name(study_name, found)
    try:
        taken = storage.get_study_user_attrs(storage.get_study_id_from_name(suggestion))
    except KeyError:
        taken = None
    if taken is not None and (FIXED_ATTR not in taken or differences(taken[FIXED_ATTR], fixed)):
        suggestion = with_hash(study_name, fixed)
    raise ConfigError(refusal(study_name, found, suggestion))
