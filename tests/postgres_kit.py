"""A real PostgreSQL 15 for the suite: Debian's, installed with apt-get when missing, run as
the unprivileged `postgres` user (when the tests run as root) in a temporary directory on a
free port, and stopped at the end. One server a session; one fresh database a test."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

VERSION = "15"
BIN = Path(f"/usr/lib/postgresql/{VERSION}/bin")
_names = itertools.count(1)


def _install() -> None:
    """Debian's postgresql-15, as CI (root, a fresh machine) gets it."""
    if os.geteuid() != 0:
        raise RuntimeError(
            f"PostgreSQL {VERSION} is not installed ({BIN} is missing) and only root can "
            f"install it: apt-get install postgresql-{VERSION}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", f"postgresql-{VERSION}"],
        check=True,
        env=env,
        capture_output=True,
    )


def _as_owner(cmd: list[str]) -> list[str]:
    """`cmd` as the postgres user when we are root (PostgreSQL refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgresql_server() -> Iterator[str]:
    """A running server; yields the URL of its `postgres` database (trust auth, 127.0.0.1)."""
    if not (BIN / "pg_ctl").exists():
        _install()
    home = Path(tempfile.mkdtemp(prefix="creditchain-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(home, owner.pw_uid, owner.pw_gid)
    data, port = home / "data", _free_port()
    run = {"check": True, "capture_output": True}
    subprocess.run(
        _as_owner([str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--no-sync"]),
        **run,
    )  # fmt: skip
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [str(BIN / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-o", options]
    subprocess.run(_as_owner([*start, "-w", "start"]), **run)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop = [str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_owner(stop), capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server of `server_url` (whose user may create one); the
    URL of the new one."""
    name = f"creditchain_{os.getpid()}_{next(_names)}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")
