"""Where a run came from: code version and package versions, for results.json."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "torch",
    "pytorch-lightning",
    "hydra-core",
    "optuna",
    "wandb",
    "numpy",
    "mnist1d",
    "research",
)


# Untracked files here change what a run computes (a new optimizer, a new config); elsewhere
# (outputs/, notes) they do not.
CODE_FOLDERS = ("research", "conf", "hydra_plugins")


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit(directory: Path) -> str | None:
    """The commit of the checkout the code runs from, with `+dirty` when tracked files are
    modified or the code folders hold untracked files."""
    commit = _git(directory, "rev-parse", "HEAD")
    top = _git(directory, "rev-parse", "--show-toplevel")
    if commit is None or top is None:
        return None
    root = Path(top.strip())
    modified = _git(root, "status", "--porcelain", "--untracked-files=no")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", *CODE_FOLDERS)
    dirty = bool((modified or "").strip() or (untracked or "").strip())
    return commit.strip() + ("+dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
