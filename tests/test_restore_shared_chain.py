"""A backup restored on a shared chain after the member anchored more batches: the restored
store does not know the chain's last root of its member. The node must not be locked out of
anchoring by that: its next batch follows the chain's last root, the batches the store does
not hold are named in the log and in /v1/status, and a record lost with them is taken again
when it is sent again."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from node.app import create_app
from node.backup.service import restore_backup, take_backup
from node.receipts.verify import verify_receipt
from tests.conftest import bearer, make_settings, node_of, person, staff_token_in, submit


def _anchored(client: TestClient, seqs: list[int]) -> dict[str, dict]:
    submit(client, [person(s) for s in seqs])
    node_of(client).batcher.drain()
    receipts = {}
    for s in seqs:
        answer = client.get(f"/v1/records/{person(s)['record_id']}/receipt")
        assert answer.status_code == 200, answer.text
        receipts[person(s)["record_id"]] = answer.json()
    return receipts


def test_a_node_restored_from_an_older_backup_anchors_after_the_chains_last_root(
    anvil: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, restored, backup = tmp_path / "data", tmp_path / "restored", tmp_path / "node.backup"
    settings = make_settings(data, anvil)
    token = staff_token_in(data)
    with TestClient(create_app(settings, run_batcher=False), headers=bearer(token)) as first:
        before = _anchored(first, [1, 2])
        take_backup(data=data, store_url=settings.store_url, to=backup)
        after = _anchored(first, [3])  # a batch the backup will not know
        (lost,) = after.values()
    restore_backup(source=backup, data=restored, store_url=None)
    # the backup holds no password: the restored node is started with the first one's
    monkeypatch.setenv("CREDITCHAIN_KEY_PASSWORD_FILE", str(data / "keys" / "password"))

    restored_app = create_app(make_settings(restored, anvil), run_batcher=False)
    with TestClient(restored_app, headers=bearer(token)) as node:  # the same staff token
        w3 = node_of(node).chain.client.w3
        with caplog.at_level(logging.WARNING, logger="creditchain.batcher"):
            w3.provider.make_request("anvil_mine", [3])  # idle: the chain is ahead, no reorg
            node_of(node).batcher.step()
            assert "reorganised" not in caplog.text
            new = _anchored(node, [4])
        (receipt,) = new.values()
        assert verify_receipt(receipt, w3).ok
        unknown = [r.getMessage() for r in caplog.records if "not in this store" in r.getMessage()]
        assert unknown and f"chain batch {lost['batch_id']}" in unknown[0], caplog.text
        status = node.get("/v1/status").json()
        (unknown_batch,) = status["unknown_own_batches"]
        assert (unknown_batch["batch_id"], unknown_batch["size"]) == (lost["batch_id"], 1)
        for rid, old in before.items():  # what the backup held: the same receipts
            assert node.get(f"/v1/records/{rid}/receipt").json() == old

        again = _anchored(node, [3])  # the record lost with the newer batch, sent again
        assert verify_receipt(again[person(3)["record_id"]], w3).ok
        assert again[person(3)["record_id"]]["batch_id"] > lost["batch_id"]
