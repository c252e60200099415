"""Status changes marked on chain in batches: a sweep that expires many commitments takes one
expireLeaves transaction per batch and EXPIRY_WORDS words of 256 leaves, a change made first
by other means costs the others nothing, and a reorg that drops a batch of marks has them
marked again, looking only past the fork."""

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from node.anchoring import service as anchoring
from node.anchoring.marks import EXPIRY_WORDS
from node.app import create_app
from node.db import read_connection, write_transaction
from tests.conftest import bearer, make_settings, node_of, rpc, staff_token_in

EXPIRED = anchoring.CHAIN_STATUSES.index("expired")
REVOKED = anchoring.CHAIN_STATUSES.index("revoked")


def _anchor_leaves(node: Any, n: int, tag: bytes = b"entry") -> tuple[int, list[bytes]]:
    """Append `n` leaves and anchor them; the first leaf's id and the commitments."""
    entries = [hashlib.sha256(tag + b" %d" % i).digest() for i in range(n)]
    with write_transaction(node.engine) as conn:
        first = anchoring.append_leaves(conn, "query", entries, time.time())
    node.batcher.drain()
    return first, entries


def _request(node: Any, status: str, leaves: list[int]) -> None:
    with write_transaction(node.engine) as conn:
        anchoring.request_status_change(conn, status=status, leaves=leaves, now=time.time())


def _sent(node: Any) -> int:
    """Transactions this node's account has had mined."""
    client = node.chain.client
    return int(client.w3.eth.get_transaction_count(client.account.address))


def _statuses_at(node: Any, first: int, n: int) -> list[int]:
    """The chain's status of leaves first .. first + n - 1, by statusAt with their proofs."""
    status_at = node.chain.registry.functions.statusAt
    out = []
    for leaf in range(first, first + n):
        a = anchoring.receipt_anchor(node.engine, leaf)
        out.append(status_at(a["commitment"], a["batch_id"], a["leaf_index"], a["proof"]).call())
    return out


def _states(node: Any) -> dict[int, str]:
    with read_connection(node.engine) as conn:
        rows = conn.exec_driver_sql("SELECT leaf_id, state FROM status_change").all()
    return dict(rows)


def test_many_expirations_are_marked_in_a_few_transactions(node_client: TestClient) -> None:
    node = node_of(node_client)
    n = 600  # three bitmap words of one batch
    first, entries = _anchor_leaves(node, n)
    before = _sent(node)
    _request(node, "expired", list(range(first, first + n)))
    node.batcher.drain()

    assert _sent(node) - before == 1 and EXPIRY_WORDS >= 3
    registry = node.chain.registry.functions
    assert _statuses_at(node, first, n) == [EXPIRED] * n
    assert [registry.statusOf(e).call() for e in entries[:3]] == [0] * 3  # the bitmap alone
    assert set(_states(node).values()) == {"done"}
    with read_connection(node.engine) as conn:
        assert {anchoring.status_of(conn, first + i) for i in range(n)} == {"expired"}


def test_a_change_made_by_other_means_first_leaves_the_others_marked(
    node_client: TestClient,
) -> None:
    node = node_of(node_client)
    first, _ = _anchor_leaves(node, 6)
    registry = node.chain.registry.functions
    _request(node, "revoked", [first + 1])
    node.batcher.drain()
    a = anchoring.receipt_anchor(node.engine, first + 4)
    fn = registry.expireLeaves(a["batch_id"], [0], [1 << a["leaf_index"]])  # not the batcher
    assert node.chain.client.wait_receipt(node.chain.client.send(fn, gas=200_000))

    _request(node, "expired", list(range(first, first + 6)))
    before = _sent(node)
    node.batcher.drain()

    assert _sent(node) - before == 1
    assert _statuses_at(node, first, 6) == [EXPIRED, REVOKED, EXPIRED, EXPIRED, EXPIRED, EXPIRED]
    with read_connection(node.engine) as conn:
        rows = conn.exec_driver_sql(
            "SELECT leaf_id, state, tx_hash FROM status_change WHERE status = 'expired'"
        ).all()
    states = {leaf: (state, tx is not None) for leaf, state, tx in rows}
    assert states.pop(first + 1) == ("refused", False)  # revoked is final
    assert states.pop(first + 4) == ("done", False)  # its bit was set before
    assert set(states.values()) == {("done", True)}


def _node_on(url: str, data: Path) -> TestClient:
    client = TestClient(create_app(make_settings(data, url), run_batcher=False))
    client.headers.update(bearer(staff_token_in(data, "admin")))
    return client


@pytest.mark.anvil
def test_marks_dropped_by_a_reorg_are_marked_again_and_older_ones_left_alone(
    anvil: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _node_on(anvil, tmp_path / "data") as client:
        node = node_of(client)
        first, _ = _anchor_leaves(node, 8)
        _request(node, "revoked", [first, first + 1])
        node.batcher.drain()
        with read_connection(node.engine) as conn:
            (older_tx,) = conn.exec_driver_sql(
                "SELECT DISTINCT tx_hash FROM status_change WHERE state = 'done'"
            ).scalars()

        snapshot = rpc(anvil, "evm_snapshot")
        _request(node, "expired", list(range(first + 2, first + 8)))
        node.batcher.drain()
        assert _statuses_at(node, first + 2, 6) == [EXPIRED] * 6

        rpc(anvil, "evm_revert", [snapshot])
        rpc(anvil, "anvil_mine", ["0x3"])  # the chain moves on without the expiry marks
        assert _statuses_at(node, first + 2, 6) == [0] * 6

        asked: list[str] = []
        receipt = node.chain.client.receipt
        monkeypatch.setattr(
            node.chain.client, "receipt", lambda tx: asked.append(tx) or receipt(tx)
        )
        node.batcher.drain()
        assert _statuses_at(node, first, 8) == [REVOKED] * 2 + [EXPIRED] * 6
        assert set(_states(node).values()) == {"done"}
        assert older_tx not in asked  # before the fork: not looked at again
