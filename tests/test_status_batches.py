"""Status changes marked on chain in batches: a sweep that expires many commitments takes a few
setStatuses transactions, a change someone else made first costs the others nothing, and a
reorg that drops a batch of marks has them marked again, looking only past the fork."""

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from node.anchoring import service as anchoring
from node.anchoring.batcher import STATUS_MARKS
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


def _states(node: Any) -> dict[int, str]:
    with read_connection(node.engine) as conn:
        rows = conn.exec_driver_sql("SELECT leaf_id, state FROM status_change").all()
    return dict(rows)


def test_many_expirations_are_marked_in_a_few_transactions(node_client: TestClient) -> None:
    node = node_of(node_client)
    n = 2 * STATUS_MARKS + 50
    first, entries = _anchor_leaves(node, n)
    before = _sent(node)
    _request(node, "expired", list(range(first, first + n)))
    node.batcher.drain()

    assert _sent(node) - before == 3  # 100 + 100 + 50
    registry = node.chain.registry.functions
    assert [registry.statusOf(e).call() for e in entries] == [EXPIRED] * n
    assert set(_states(node).values()) == {"done"}
    with read_connection(node.engine) as conn:
        assert {anchoring.status_of(conn, first + i) for i in range(n)} == {"expired"}


def test_a_change_made_by_other_means_first_leaves_the_others_marked(
    node_client: TestClient,
) -> None:
    node = node_of(node_client)
    first, entries = _anchor_leaves(node, 6)
    registry = node.chain.registry.functions

    def set_directly(leaf: int, status: int) -> None:  # not through the batcher
        a = anchoring.receipt_anchor(node.engine, leaf)
        fn = registry.setStatus(a["commitment"], a["batch_id"], a["leaf_index"], a["proof"], status)
        assert node.chain.client.wait_receipt(node.chain.client.send(fn, gas=600_000))

    _request(node, "expired", list(range(first, first + 6)))
    set_directly(first + 1, REVOKED)  # revoked: Expired cannot follow it
    set_directly(first + 4, EXPIRED)  # already what was asked
    before = _sent(node)
    node.batcher.drain()

    assert _sent(node) - before == 1
    statuses = [registry.statusOf(e).call() for e in entries]
    assert statuses == [EXPIRED, REVOKED, EXPIRED, EXPIRED, EXPIRED, EXPIRED]
    states = _states(node)
    assert states.pop(first + 1) == "refused"
    assert set(states.values()) == {"done"}


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
        first, entries = _anchor_leaves(node, 8)
        _request(node, "revoked", [first, first + 1])
        node.batcher.drain()
        with read_connection(node.engine) as conn:
            (older_tx,) = conn.exec_driver_sql(
                "SELECT DISTINCT tx_hash FROM status_change WHERE state = 'done'"
            ).scalars()

        snapshot = rpc(anvil, "evm_snapshot")
        _request(node, "expired", list(range(first + 2, first + 8)))
        node.batcher.drain()
        registry = node.chain.registry.functions
        assert [registry.statusOf(e).call() for e in entries[2:]] == [EXPIRED] * 6

        rpc(anvil, "evm_revert", [snapshot])
        rpc(anvil, "anvil_mine", ["0x3"])  # the chain moves on without the expiry marks
        assert [registry.statusOf(e).call() for e in entries[2:]] == [0] * 6

        asked: list[str] = []
        receipt = node.chain.client.receipt
        monkeypatch.setattr(
            node.chain.client, "receipt", lambda tx: asked.append(tx) or receipt(tx)
        )
        node.batcher.drain()
        statuses = [registry.statusOf(e).call() for e in entries]
        assert statuses == [REVOKED] * 2 + [EXPIRED] * 6
        assert set(_states(node).values()) == {"done"}
        assert older_tx not in asked  # before the fork: not looked at again
