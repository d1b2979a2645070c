"""A resume in a run's own folder is that run, continued: it takes the run's own overrides.

`python -m research.train ckpt_path=last hydra.run.dir=D`, the command a stopped run prints,
would otherwise compose the default config (another model, another optimizer) over D's
checkpoint. Here the overrides D's run was started with (its `.hydra/overrides.yaml`) come
first, and whatever the user writes on this command line replaces the same key among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

MULTIRUN_FLAGS = ("-m", "--multirun")
RUN_DIR = "hydra.run.dir="


def _value(args: Sequence[str], prefix: str) -> str | None:
    found = [a.removeprefix(prefix) for a in args if a.startswith(prefix)]
    return found[-1] if found else None


def resumed_run_dir(args: Sequence[str]) -> Path | None:
    """The folder of the run this command continues in place, if it is one."""
    if any(a in MULTIRUN_FLAGS for a in args):
        return None
    run_dir, ckpt = _value(args, RUN_DIR), _value(args, "ckpt_path=")
    if run_dir is None or ckpt is None:
        return None
    folder = Path(run_dir)
    in_place = ckpt == "last" or Path(ckpt).absolute().parent.parent == folder.absolute()
    return folder if in_place and (folder / ".hydra" / "overrides.yaml").is_file() else None


def _keys(overrides: Sequence[str]) -> list[str]:
    return [o.key_or_group for o in OverridesParser.create().parse_overrides(list(overrides))]


def with_run_overrides(args: Sequence[str]) -> list[str]:
    """`args` with the resumed run's own overrides before them (none replaced by the user's)."""
    folder = resumed_run_dir(args)
    if folder is None:
        return list(args)
    saved = [str(o) for o in OmegaConf.load(folder / ".hydra" / "overrides.yaml")]
    given = [a for a in args if not a.startswith("-")]
    replaced = set(_keys(given)) | {"ckpt_path"}
    kept = [o for o, key in zip(saved, _keys(saved), strict=True) if not _under(key, replaced)]
    return [*kept, *args]


def _under(key: str, replaced: set[str]) -> bool:
    """`model.width` goes with `model`: a new model choice drops the old model's values."""
    parts = key.lstrip("+~").split(".")
    return any(".".join(parts[:n]) in replaced for n in range(1, len(parts) + 1))
