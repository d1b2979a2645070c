"""The real PostgreSQL server and one-node SLURM cluster the cluster tests run against.

They are started by `scripts/services.sh` (the script .ci/run uses too) and stopped at the end
of the session if the tests started them. Without root or the Debian packages a developer gets
a skip that says what to install; CI sets RESEARCH_REQUIRE_SERVICES=1, so there they must run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "services.sh"
NEEDS = {
    "postgres": ("initdb", "apt-get install -y postgresql"),
    "slurm": ("slurmctld", "apt-get install -y slurm-wlm munge"),
}


def _installed(service: str) -> bool:
    if service == "postgres":
        return any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return shutil.which("slurmctld") is not None or Path("/usr/sbin/slurmctld").exists()


def _start(service: str) -> Iterator[dict[str, str]]:
    program, install = NEEDS[service]
    if os.geteuid() != 0 or not _installed(service):
        message = f"{service} tests need root and `{install}` ({program} not found)"
        if os.environ.get("RESEARCH_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)
    was_running = subprocess.run([str(SCRIPT), "status", service], check=False).returncode == 0
    out = subprocess.run(
        [str(SCRIPT), "start", service], capture_output=True, text=True, check=True
    ).stdout
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in out.splitlines()
        if line.startswith("export ")
    )
    try:
        yield env
    finally:
        if not was_running:
            subprocess.run([str(SCRIPT), "stop", service], check=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[dict[str, str]]:
    yield from _start("postgres")


@pytest.fixture(scope="session")
def slurm() -> Iterator[dict[str, str]]:
    yield from _start("slurm")


def fresh_database(postgres: dict[str, str]) -> str:
    """A new, empty database on the server; its URL carries the password (as users write it)."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres["RESEARCH_PG_URL"]).set(password=postgres["RESEARCH_PG_PASSWORD"])
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname="postgres",
        autocommit=True,
    ) as connection:  # fmt: skip
        connection.execute(f"CREATE DATABASE {name}")
    return url.set(database=name).render_as_string(hide_password=False)
