"""The store on PostgreSQL as an operator meets it: the URL in the environment reaches every
command, a store that is down is said in one line without its password, and the ingest
benchmark runs on it. (The store's own tests run on both stores: see the `store` fixture.)"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from node.cli import main
from node.db import pyformat
from tests.conftest import REPO, free_port
from tests.postgres_kit import drop_database, fresh_database

FAST_KDF = "1024"


@pytest.fixture
def pg_store(postgresql: str) -> Iterator[str]:
    url = fresh_database(postgresql)
    yield url
    drop_database(postgresql, url)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITCHAIN_")}
    return {**env, "CREDITCHAIN_KDF_N": FAST_KDF, **extra}


def test_an_unreachable_store_stops_the_node_in_one_line_without_its_password(tmp_path: Path):
    url = f"postgresql://lender:s3cret-pw@127.0.0.1:{free_port()}/creditchain"
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", "run", "--data", str(tmp_path / "data"),
         "--port", str(free_port())],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env=_env(CREDITCHAIN_STORE=url, CREDITCHAIN_KEY_PASSWORD="pw"),
    )  # fmt: skip
    assert done.returncode == 2
    err = done.stderr.strip().splitlines()
    assert len(err) == 1, done.stderr
    assert err[0].startswith("creditchain: cannot reach the store at postgresql://lender:***@")
    assert "s3cret-pw" not in done.stdout + done.stderr


def test_a_command_on_an_unreachable_store_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.setenv("CREDITCHAIN_KDF_N", FAST_KDF)
    data = str(tmp_path / "data")
    assert main(["keys", "new", "--data", data]) == 0
    capsys.readouterr()
    url = f"postgresql://lender:s3cret-pw@127.0.0.1:{free_port()}/creditchain"
    monkeypatch.setenv("CREDITCHAIN_STORE", url)
    assert main(["staff", "list", "--data", data]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "s3cret-pw" not in err[0]
    assert err[0].startswith("creditchain: cannot reach the store at postgresql://lender:***@")


def test_a_store_that_is_no_database_url_is_refused_naming_the_option(tmp_path: Path, capsys):
    assert main(["run", "--data", str(tmp_path), "--store", "mysql://db/creditchain"]) == 2
    assert "--store (or CREDITCHAIN_STORE)" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_the_staff_command_works_on_the_store_creditchain_store_names(
    tmp_path: Path, pg_store: str, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.setenv("CREDITCHAIN_KDF_N", FAST_KDF)
    monkeypatch.setenv("CREDITCHAIN_STORE", pg_store)
    data = str(tmp_path / "data")
    assert main(["keys", "new", "--data", data]) == 0
    assert main(["staff", "add", "admin-1", "--role", "admin", "--data", data]) == 0
    assert not (tmp_path / "data" / "node.db").exists()
    engine = create_engine(pg_store.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT name FROM staff_account").scalars().all()
        logged = conn.exec_driver_sql("SELECT action FROM operator_log").scalars().all()
    engine.dispose()
    assert names == ["admin-1"]
    assert logged == ["staff add admin-1"]


@pytest.mark.parametrize(
    ("sql", "sent"),
    [
        ("SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = %s AND c = %s"),
        ("SELECT '?' , \"x?\" FROM t WHERE b = ?", "SELECT '?' , \"x?\" FROM t WHERE b = %s"),
        ("SELECT 'it''s ?' WHERE a LIKE '5%' AND b = ?",
         "SELECT 'it''s ?' WHERE a LIKE '5%%' AND b = %s"),
    ],
)  # fmt: skip
def test_placeholders_outside_quotes_become_psycopgs(sql: str, sent: str):
    assert pyformat(sql) == sent


def test_the_ingest_benchmark_prints_its_json_line_on_postgresql(postgresql: str):
    done = subprocess.run(
        [sys.executable, "scripts/bench_ingest.py", "--records", "300", "--chain", "embedded",
         "--baseline-txs", "3", "--store", postgresql],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["store"] == "postgresql" and figures["chain"] == "embedded"
    assert figures["records"] == 300 and figures["records_per_s"] > 0
