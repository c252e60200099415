"""Receipts from big batches: read from the tree stored with the batch, never rebuilt per request,
and still right after a restart, for batches stored without a tree and for corrections."""

import copy
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from node.anchoring import proofs
from node.anchoring import service as anchoring
from node.app import create_app
from node.crypto import merkle
from node.crypto.commitments import to_hex
from node.crypto.merkle import inclusion_proof, tree_levels
from node.db import write_transaction
from node.receipts.verify import verify_receipt
from tests.conftest import authorize, make_settings, node_of, person, rpc, submit

BATCHES = (2_500, 3_001, 1_777)  # leaves per batch: odd sizes have lone nodes on the way up


def _seqs(batch: int) -> range:
    start = sum(BATCHES[:batch])
    return range(start, start + BATCHES[batch])


def _open_node(data: Path, rpc_url: str | None = None) -> TestClient:
    return TestClient(create_app(make_settings(data, rpc_url), run_batcher=False))


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node's data directory holding len(BATCHES) anchored batches; the node is stopped."""
    data = tmp_path_factory.mktemp("big") / "data"
    with _open_node(data) as client:
        authorize(client)
        for batch in range(len(BATCHES)):
            submit(client, [person(i) for i in _seqs(batch)])
            node_of(client).batcher.drain()
    return data


@pytest.fixture
def restarted(big_store: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A node started again on a copy of the big store, called as its admin."""
    data = tmp_path / "data"
    shutil.copytree(big_store, data)
    with _open_node(data) as client:
        authorize(client)
        yield client


def _no_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, hashing a whole tree fails the test."""

    def refuse(entries: list[bytes]) -> list[list[bytes]]:
        raise AssertionError(f"a tree of {len(entries)} leaves was rebuilt")

    monkeypatch.setattr(proofs, "tree_levels", refuse)
    monkeypatch.setattr(merkle, "tree_levels", refuse)


def _receipt(client: TestClient, seq: int) -> dict:
    resp = client.get(f"/v1/records/{person(seq)['record_id']}/receipt")
    assert resp.status_code == 200, resp.text
    return resp.json()


def _fresh_proof(engine: Engine, chain_batch_id: int, leaf: int) -> list[str]:
    """The path from a tree rebuilt here from the batch's commitments."""
    with engine.connect() as conn:
        commitments = list(
            conn.exec_driver_sql(
                "SELECT l.commitment FROM batch b JOIN leaf l "
                "ON l.id BETWEEN b.first_leaf AND b.last_leaf WHERE b.chain_batch_id = ? "
                "ORDER BY l.id",
                (chain_batch_id,),
            ).scalars()
        )
    return [to_hex(h) for h in inclusion_proof(tree_levels(commitments), leaf)]


def _sample(rng: random.Random, per_batch: int) -> list[int]:
    """Random records of every batch, with each batch's first and last."""
    out = []
    for batch in range(len(BATCHES)):
        seqs = _seqs(batch)
        out += [seqs[0], seqs[-1], *rng.sample(seqs, per_batch)]
    rng.shuffle(out)
    return out


def _tree_rows(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT * FROM batch_tree ORDER BY batch_id, chunk").all()


def test_receipts_across_big_batches_after_a_restart_verify_and_match_a_rebuilt_tree(
    restarted, monkeypatch
):
    node = node_of(restarted)
    _no_rebuild(monkeypatch)
    for seq in _sample(random.Random(7), 8):
        batch = next(b for b in range(len(BATCHES)) if seq in _seqs(b))
        receipt = _receipt(restarted, seq)
        assert (receipt["batch_id"], receipt["leaf_index"]) == (batch + 1, seq - _seqs(batch)[0])
        assert receipt["tree_size"] == BATCHES[batch]
        assert receipt["proof"] == _fresh_proof(node.engine, batch + 1, receipt["leaf_index"])
        verdict = verify_receipt(receipt, node.chain.client.w3)
        assert verdict.ok, verdict.checks


def test_serving_a_receipt_right_after_anchoring_hashes_no_tree(node_client, monkeypatch):
    submit(node_client, [person(i) for i in range(9)])
    node = node_of(node_client)
    node.batcher.drain()
    _no_rebuild(monkeypatch)
    for seq in range(9):
        receipt = _receipt(node_client, seq)
        assert receipt["leaf_index"] == seq and receipt["tree_size"] == 9
        assert verify_receipt(receipt, node.chain.client.w3).ok


def test_batch_stored_without_its_tree_gets_it_rebuilt_once(restarted, monkeypatch):
    node = node_of(restarted)
    before = _tree_rows(node.engine)
    with node.engine.begin() as conn:  # as a batch built before trees were stored
        conn.exec_driver_sql("DELETE FROM batch_tree WHERE batch_id = 2")
    seqs = _seqs(1)
    first = _receipt(restarted, seqs[17])
    assert verify_receipt(first, node.chain.client.w3).ok
    assert _tree_rows(node.engine) == before

    _no_rebuild(monkeypatch)
    for seq in (seqs[0], seqs[17], seqs[-1]):
        assert verify_receipt(_receipt(restarted, seq), node.chain.client.w3).ok


def test_a_damaged_stored_tree_is_rebuilt_not_served(restarted):
    node = node_of(restarted)
    before = _tree_rows(node.engine)
    with node.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE batch_tree SET hashes = zeroblob(length(hashes))")
    seq = _seqs(2)[1_000]
    receipt = _receipt(restarted, seq)
    assert receipt["proof"] == _fresh_proof(node.engine, receipt["batch_id"], 1_000)
    assert verify_receipt(receipt, node.chain.client.w3).ok
    assert [r for r in _tree_rows(node.engine) if r[0] == 3] == [r for r in before if r[0] == 3]


def test_correcting_a_record_of_a_big_batch_supersedes_it_with_the_stored_proof(
    restarted, monkeypatch
):
    node = node_of(restarted)
    seq = _seqs(1)[2_222]
    old_receipt = _receipt(restarted, seq)
    _no_rebuild(monkeypatch)  # (the batcher still hashes the new version's batch as it builds it)
    corrected = copy.deepcopy(person(seq))
    corrected["days_past_due"] = 30
    submit(restarted, [corrected])
    node.batcher.drain()
    assert verify_receipt(old_receipt, node.chain.client.w3).status == "superseded"
    assert verify_receipt(_receipt(restarted, seq), node.chain.client.w3).status == "active"


def test_a_receipt_of_a_leaf_expired_in_its_batchs_bitmap_verifies_as_expired(restarted):
    node = node_of(restarted)
    seqs = _seqs(2)
    expired, kept = _receipt(restarted, seqs[1_000]), _receipt(restarted, seqs[1_001])
    assert expired["leaf_index"] // 256 == 3  # a bit of the batch's fourth word
    with write_transaction(node.engine) as conn:
        leaf = conn.exec_driver_sql(
            "SELECT id FROM leaf WHERE commitment = ?", (bytes.fromhex(expired["commitment"][2:]),)
        ).scalar()
        anchoring.request_status_change(conn, status="expired", leaves=[leaf], now=time.time())
    node.batcher.drain()
    assert verify_receipt(expired, node.chain.client.w3).status == "expired"
    assert verify_receipt(kept, node.chain.client.w3).status == "active"
    registry = node.chain.registry.functions  # statusOf alone does not know the bitmap
    assert registry.statusOf(bytes.fromhex(expired["commitment"][2:])).call() == 0


def test_a_batch_anchored_again_after_a_reorg_keeps_its_stored_tree(anvil, tmp_path, monkeypatch):
    with _open_node(tmp_path / "data", anvil) as client:
        authorize(client)
        node = node_of(client)
        snapshot = rpc(anvil, "evm_snapshot")
        submit(client, [person(i) for i in range(300)])
        node.batcher.drain()
        before = _receipt(client, 123)
        stored = _tree_rows(node.engine)

        _no_rebuild(monkeypatch)
        rpc(anvil, "evm_revert", [snapshot])
        rpc(anvil, "anvil_mine", ["0x3"])
        node.batcher.drain()
        after = _receipt(client, 123)
        assert after["block_number"] != before["block_number"]
        assert after["proof"] == before["proof"]
        assert verify_receipt(after, node.chain.client.w3).ok
        assert _tree_rows(node.engine) == stored
