"""Backup and restore as an operator runs them: a backup taken while records are being
submitted restores to a node that hands out the same receipts, anchors what was pending, and
whose every receipt verifies against the chain; the backup holds no password."""

import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine
from web3 import HTTPProvider, Web3

from node.chain.compile import compile_contracts
from node.receipts.verify import verify_receipt
from tests.conftest import (
    REPO,
    bearer,
    free_port,
    person,
    staff_token_in,
    start_node_process,
    wait_for,
    wait_http,
)

PASSWORD = "backup-test-key-password"
ENV = {"CREDITCHAIN_KEY_PASSWORD": PASSWORD, "CREDITCHAIN_KDF_N": "1024"}
REGISTRY_ABI = compile_contracts()["RecordRegistry"]["abi"]


class Node:
    """A node process on `data` (its store at `store`), called with `token`."""

    def __init__(self, data: Path, store: str, token: str, log: Path, *extra: str) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.base, headers=bearer(token), timeout=60)
        self.proc = start_node_process(data, port, "--store", store, *extra, log=log, env=ENV)
        wait_http(self.base + "/v1/chain", timeout=120, headers=bearer(token))

    def submit(self, records: list[dict]) -> list[str]:
        answer = self.http.post("/v1/records", json={"records": records})
        assert answer.status_code == 200, answer.text
        return [r["record_id"] for r in answer.json()["results"] if r["status"] == "accepted"]

    def settle(self) -> None:
        wait_for(lambda: self.http.get("/v1/status").json()["pending"] == 0, 120, "anchoring")

    def receipt(self, record_id: str) -> dict:
        answer = self.http.get(f"/v1/records/{record_id}/receipt")
        assert answer.status_code == 200, (record_id, answer.text)
        return answer.json()

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(30)


def creditchain(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITCHAIN_")}
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**env, **ENV},
    )  # fmt: skip


def _pending_in(store: str) -> int:
    engine = create_engine(store.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT COUNT(*) FROM leaf WHERE id > (SELECT COALESCE(MAX(last_leaf), 0) "
                "FROM batch)"
            ).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture
def second_store(store: str, tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Where the restored node keeps its store: NEWDIR/node.db, or a second empty database."""
    if store.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'node.db'}"
        return
    from tests.postgres_kit import drop_database, fresh_database

    server = request.getfixturevalue("postgresql")
    url = fresh_database(server)
    yield url
    drop_database(server, url)


def test_a_backup_taken_under_load_restores_to_a_node_with_the_same_receipts(
    tmp_path: Path, store: str, second_store: str
) -> None:
    data, restored, backup = tmp_path / "data", tmp_path / "restored", tmp_path / "node.backup"
    token = staff_token_in(data, "admin", store=store)

    # records anchored before the backup: their receipts are handed out
    node = Node(data, store, token, tmp_path / "node.log")
    anchored = node.submit([person(i) for i in range(60)])
    node.settle()
    receipts = {rid: node.receipt(rid) for rid in anchored}
    node.stop()

    # records accepted while the backup is taken; the batcher waits an hour, so every one
    # acknowledged before the backup starts is pending in it
    node = Node(data, store, token, tmp_path / "node.log", "--batch-interval", "3600",
                "--batch-size", "100000")  # fmt: skip
    acknowledged: list[str] = []
    stop = threading.Event()

    def feed() -> None:
        seq = 1000
        while not stop.is_set():
            acknowledged.extend(node.submit([person(seq + i) for i in range(25)]))
            seq += 25

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        wait_for(lambda: len(acknowledged) >= 50, 120, "submissions answered")
        before_backup = list(acknowledged)
        done = creditchain("backup", "--data", str(data), "--store", store, "--to", str(backup))
    finally:
        stop.set()
        feeder.join(60)
    node.stop()
    assert done.returncode == 0, done.stderr
    assert f"backup written to {backup}" in done.stderr

    with tarfile.open(backup) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("creditchain-backup.json"))  # type: ignore[arg-type]
        contents = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
    assert {"keys/member.json", "keys/master.json", "keys/consortium.json", "chain.json"} <= names
    assert not any("password" in n for n in names)
    assert PASSWORD.encode() not in contents
    assert manifest["chain"] == "embedded" and manifest["store"] == store.split(":")[0]

    again = creditchain("backup", "--data", str(data), "--store", store, "--to", str(backup))
    assert again.returncode == 1 and "exists" in again.stderr

    restore = ["restore", str(backup), "--data", str(restored)]
    if store.startswith("postgresql"):
        restore += ["--store", second_store]
    done = creditchain(*restore)
    assert done.returncode == 0, done.stderr
    assert not (restored / "keys" / "password").exists()
    pending = _pending_in(second_store)
    assert pending >= len(before_backup) >= 50

    refused = creditchain(*restore)
    assert refused.returncode == 1 and "is not empty" in refused.stderr
    if store.startswith("postgresql"):  # a database that is not empty: refused as a whole
        again = tmp_path / "again"
        twice = creditchain("restore", str(backup), "--data", str(again), "--store", second_store)
        assert twice.returncode == 1 and "pg_restore failed" in twice.stderr
        assert not again.exists() and _pending_in(second_store) == pending

    # the restored node: the same staff token, the same receipts, the pending ones anchored
    node = Node(restored, second_store, token, tmp_path / "restored.log")
    try:
        node.settle()
        assert {rid: node.receipt(rid) for rid in anchored} == receipts
        w3 = Web3(HTTPProvider(node.base + "/rpc"))
        for rid in anchored + before_backup:
            assert verify_receipt(node.receipt(rid), w3).ok, rid
        status = node.http.get("/v1/status").json()
        assert status["pending"] == 0 and status["anchored"] >= len(anchored) + pending
    finally:
        node.stop()


def test_restore_refuses_a_file_that_is_no_backup_and_changes_nothing(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w") as tar:
        tar.add(__file__, arcname="node.db")
    done = creditchain("restore", str(junk), "--data", str(tmp_path / "new"))
    assert done.returncode == 1
    assert "is not a creditchain backup" in done.stderr
    assert not (tmp_path / "new").exists()


def test_backup_refuses_a_directory_that_holds_no_node(tmp_path: Path) -> None:
    done = creditchain("backup", "--data", str(tmp_path / "nothing"), "--to", str(tmp_path / "b"))
    assert done.returncode == 2 and "holds no node" in done.stderr
    assert not (tmp_path / "b").exists()


def test_a_backup_taken_while_batches_are_anchored_restores_to_a_node_whose_receipts_verify(
    tmp_path: Path,
) -> None:
    data, restored, backup = tmp_path / "data", tmp_path / "restored", tmp_path / "node.backup"
    store = f"sqlite:///{data / 'node.db'}"
    token = staff_token_in(data, "admin", store=store)
    node = Node(data, store, token, tmp_path / "node.log", "--batch-size", "20")
    acknowledged: list[str] = []
    stop = threading.Event()

    def feed() -> None:
        seq = 0
        while not stop.is_set():
            acknowledged.extend(node.submit([person(seq + i) for i in range(25)]))
            seq += 25

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        wait_for(lambda: len(acknowledged) >= 100, 120, "submissions answered")
        before_backup = list(acknowledged)
        done = creditchain("backup", "--data", str(data), "--to", str(backup))
    finally:
        stop.set()
        feeder.join(60)
    node.stop()
    assert done.returncode == 0, done.stderr
    assert creditchain("restore", str(backup), "--data", str(restored)).returncode == 0

    node = Node(restored, f"sqlite:///{restored / 'node.db'}", token, tmp_path / "restored.log")
    try:
        node.settle()
        w3 = Web3(HTTPProvider(node.base + "/rpc"))
        for rid in before_backup:
            assert verify_receipt(node.receipt(rid), w3).ok, rid
        registry = w3.eth.contract(
            address=node.receipt(before_backup[0])["registry"], abi=REGISTRY_ABI
        )
        count = registry.functions.batchCount().call()
        on_chain = sum(registry.functions.getBatch(i).call()[2] for i in range(1, count + 1))
        assert on_chain == node.http.get("/v1/status").json()["anchored"]
    finally:
        node.stop()
