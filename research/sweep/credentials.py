"""Keep the storage password out of everything a sweep writes.

Hydra records the sweep's own config and command line in `multirun.yaml`, in every trial's
`.hydra/hydra.yaml` and `overrides.yaml` (trials are composed from the sweep's config), and
W&B records the process's command line: the URL there is replaced by its masked form before any
of them is written. Trials reach the storage through STORAGE_ENV instead.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import quote, quote_plus

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from research.sweep.pruning import STORAGE_ENV
from research.sweep.storage import masked, password_of


def hand_to_trials(url: str) -> None:
    """Trials (in this process, joblib workers, submitit/SLURM jobs) inherit the environment."""
    os.environ[STORAGE_ENV] = url


def hide(text: str, password: str | None) -> str:
    """`text` with the password masked, as typed (URL-encoded, e.g. p%40ss) or decoded."""
    if not password:
        return text
    for form in sorted({password, quote(password, safe=""), quote_plus(password)}, key=len)[::-1]:
        text = text.replace(form, "***")
    return text


def scrub(config: DictConfig, url: str) -> None:
    """Mask the password in the sweep's config (in place) and command line."""
    password = password_of(url)
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweeper.storage = masked(url)
        overrides = config.hydra.overrides
        for key in ("hydra", "task"):
            if isinstance(overrides.get(key), ListConfig):
                # unresolved: an override may hold an interpolation (`${trial.number}`)
                lines = OmegaConf.to_container(overrides[key], resolve=False)
                overrides[key] = [hide(str(line), password) for line in lines]
    sys.argv = [hide(arg, password) for arg in sys.argv]


def scrub_hydra_config(url: str) -> None:
    """The same for the HydraConfig singleton, which launchers pass on to every job."""
    from hydra.core.hydra_config import HydraConfig

    instance = HydraConfig.instance()
    if instance.cfg is not None and OmegaConf.select(instance.cfg, "hydra.sweeper") is not None:
        scrub(instance.cfg, url)  # type: ignore[arg-type]
