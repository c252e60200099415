"""A node's backup: one tar file holding its store, its keys as keystores (never the password
that unlocks them), chain.json and the embedded chain, taken while the node runs; and its
restore into a new data directory.

Order makes the copy consistent. The embedded chain is copied first, then the store: the store
then knows every batch the copied chain holds, and perhaps a few the chain never got, which
the restored node's batcher finds missing and anchors again, as after a reorg. (The other
order could leave the chain holding a batch the store never built, and the member's hash chain
of roots stuck.) Each SQLite file is copied with SQLite's online backup API, one consistent
snapshot while the node goes on writing; a PostgreSQL store with pg_dump, one snapshot too."""

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.config import CHAIN_FILE, DB_FILE, KEYS_DIR
from node.db import is_postgresql, safe_url
from node.errors import DomainError
from node.keys.store import SLOTS

FORMAT = 1
MANIFEST = "creditchain-backup.json"
CHAIN_DIR, CHAIN_DB = "chain", "chain.sqlite3"
PG_DUMP = "store.pgdump"

Progress = Callable[[str], None]


class BackupError(DomainError):
    code = "backup_failed"
    detail = "the backup or restore cannot be done"


def _quiet(_: str) -> None:
    pass


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite file (WAL or not), by SQLite's online backup."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=4096)
        finally:
            dst.close()
    finally:
        src.close()


def _pg_env(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without its password, and the environment that gives it (PGPASSWORD), so
    that the password is on no command line."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    """pg_dump or pg_restore: on the PATH, or Debian's newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: p.parts)
    if versions:
        return str(versions[-1])
    raise BackupError(
        detail=f"{name} not found: install PostgreSQL's client tools (apt-get install "
        "postgresql-client)"
    )


def _run_pg(cmd: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        why = " ".join(done.stderr.split())[:300] or f"exit code {done.returncode}"
        raise BackupError(detail=f"{what} failed: {why}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mib(path: Path) -> str:
    return f"{path.stat().st_size / 2**20:.1f} MiB"


def take_backup(
    *, data: Path, store_url: str, to: Path, progress: Progress = _quiet
) -> dict[str, Any]:
    """Write the backup of the node in `data` (its store at `store_url`) to `to`, a new file;
    the manifest it holds."""
    if to.exists():
        raise BackupError(detail=f"{to} exists: give --to a new file")
    legacy = [s.legacy for s in SLOTS if (data / KEYS_DIR / s.legacy).exists()]
    if legacy:
        raise BackupError(
            detail=f"{data / KEYS_DIR} still holds plain key files ({', '.join(legacy)}): "
            "start the node once, which turns them into keystores, then back up"
        )
    keystores = [s.keystore for s in SLOTS if (data / KEYS_DIR / s.keystore).is_file()]
    if not keystores:
        raise BackupError(detail=f"{data / KEYS_DIR} holds no keystore: check --data")
    postgresql = is_postgresql(store_url)
    embedded = (data / CHAIN_DIR / CHAIN_DB).is_file()
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=to.parent) as tmp:
        work = Path(tmp)
        files: list[tuple[Path, str]] = []
        if embedded:  # first: see the module's docstring
            progress("copying the embedded chain ...")
            (work / CHAIN_DIR).mkdir()
            _sqlite_copy(data / CHAIN_DIR / CHAIN_DB, work / CHAIN_DIR / CHAIN_DB)
            files.append((work / CHAIN_DIR / CHAIN_DB, f"{CHAIN_DIR}/{CHAIN_DB}"))
            progress(f"  embedded chain: {_mib(work / CHAIN_DIR / CHAIN_DB)}")
        if postgresql:
            progress(f"dumping the store at {safe_url(store_url)} ...")
            url, env = _pg_env(store_url)
            dump = work / PG_DUMP
            cmd = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                   "--file", str(dump), "--dbname", url]  # fmt: skip
            _run_pg(cmd, env, "pg_dump")
            files.append((dump, PG_DUMP))
            progress(f"  store: {_mib(dump)}")
        else:
            from sqlalchemy.engine import make_url

            source = Path(make_url(store_url).database or "")
            if not source.is_file():
                raise BackupError(detail=f"{source} not found: no store to back up")
            progress(f"copying the store {source} ...")
            _sqlite_copy(source, work / DB_FILE)
            files.append((work / DB_FILE, DB_FILE))
            progress(f"  store: {_mib(work / DB_FILE)}")
        for name in keystores:  # encrypted; the password stays where it is
            files.append((data / KEYS_DIR / name, f"{KEYS_DIR}/{name}"))
        progress(f"  keys: {', '.join(keystores)} (keystores; the password is not copied)")
        if (data / CHAIN_FILE).is_file():
            files.append((data / CHAIN_FILE, CHAIN_FILE))
        created = int(time.time())
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": created,
            "store": "postgresql" if postgresql else "sqlite",
            "chain": "embedded" if embedded else "rpc",
            "files": {arc: _sha256(path) for path, arc in files},
        }
        partial = work / "backup.tar"
        with tarfile.open(partial, "w") as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), created, 0o600
            tar.addfile(info, io.BytesIO(body))
            for path, arc in files:
                tar.add(path, arcname=arc, recursive=False)
        os.chmod(partial, 0o600)  # keystores are encrypted, but the records are the member's
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, to)
    progress(f"backup written to {to} ({_mib(to)})")
    return manifest


def _read_manifest(tar: tarfile.TarFile, source: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        raw = tar.extractfile(member)
        manifest: dict[str, Any] = json.loads(raw.read() if raw else b"")
    except (KeyError, ValueError):
        raise BackupError(detail=f"{source} is not a creditchain backup (no manifest)") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(detail=f"{source}: backup format {manifest.get('format')} unknown")
    return manifest


def restore_backup(
    *, source: Path, data: Path, store_url: str | None, progress: Progress = _quiet
) -> dict[str, Any]:
    """Bring the backup `source` back into `data`, a new or empty directory (and, for a backup
    of a PostgreSQL store, into the empty database at `store_url`); its manifest."""
    if data.exists() and (not data.is_dir() or any(data.iterdir())):
        raise BackupError(detail=f"{data} is not empty: restore into a new directory")
    data.parent.mkdir(parents=True, exist_ok=True)
    try:
        tar = tarfile.open(source, "r")
    except (OSError, tarfile.TarError) as err:
        raise BackupError(detail=f"cannot read {source}: {err}") from None
    with tar, tempfile.TemporaryDirectory(prefix=".restore-", dir=data.parent) as tmp:
        manifest = _read_manifest(tar, source)
        postgresql = manifest["store"] == "postgresql"
        if postgresql and not (store_url and is_postgresql(store_url)):
            raise BackupError(
                detail="this backup holds a PostgreSQL store: give --store (or "
                "CREDITCHAIN_STORE) the URL of an empty database to restore it into"
            )
        work = Path(tmp) / "data"
        work.mkdir(mode=0o700)
        names = set(manifest["files"])
        for member in tar.getmembers():
            if member.name == MANIFEST:
                continue
            if member.name not in names or not member.isfile():
                raise BackupError(detail=f"{source}: unexpected entry {member.name}")
            tar.extract(member, work, filter="data")
        for arc, digest in manifest["files"].items():
            if not (work / arc).is_file() or _sha256(work / arc) != digest:
                raise BackupError(detail=f"{source}: {arc} is missing or damaged")
        taken = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(manifest["created_at"]))
        progress(f"backup taken {taken}: {len(names)} files checked")
        for name in os.listdir(work / KEYS_DIR):
            os.chmod(work / KEYS_DIR / name, 0o600)
        os.chmod(work / KEYS_DIR, 0o700)
        if postgresql:
            assert store_url is not None
            progress(f"restoring the store into {safe_url(store_url)} ...")
            url, env = _pg_env(store_url)
            cmd = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                   "--single-transaction", "--dbname", url, str(work / PG_DUMP)]  # fmt: skip
            _run_pg(cmd, env, "pg_restore")
            (work / PG_DUMP).unlink()
        if data.exists():
            data.rmdir()  # empty, checked above
        os.replace(work, data)
    progress(f"restored into {data}")
    return manifest
