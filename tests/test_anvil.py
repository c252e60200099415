"""The node on a JSON-RPC chain (anvil, started by the tests): reorgs and a chain that is down."""

import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from node.app import create_app
from node.receipts.verify import verify_receipt
from tests.conftest import (
    ANVIL,
    bearer,
    free_port,
    make_settings,
    node_of,
    person,
    rpc,
    staff_token_in,
    submit,
    wait_for,
)


def _node_on(url: str, data: Path) -> TestClient:
    """A node on the chain at `url`, called as a new admin."""
    client = TestClient(create_app(make_settings(data, url), run_batcher=False))
    client.headers.update(bearer(staff_token_in(data, "admin")))
    return client


def _receipt(client: TestClient, record_id: str) -> dict:
    resp = client.get(f"/v1/records/{record_id}/receipt")
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_batch_dropped_by_snapshot_revert_is_anchored_again(anvil, tmp_path):
    with _node_on(anvil, tmp_path / "data") as client:
        node = node_of(client)
        snapshot = rpc(anvil, "evm_snapshot")
        submit(client, [person(i) for i in range(5)])
        node.batcher.drain()
        before = _receipt(client, person(0)["record_id"])
        assert verify_receipt(before, node.chain.client.w3).ok

        rpc(anvil, "evm_revert", [snapshot])
        rpc(anvil, "anvil_mine", ["0x3"])  # the chain moves on without our batch
        verdict = verify_receipt(before, node.chain.client.w3)
        assert not verdict.ok and ("batch", False) in [(n, ok) for n, ok, _ in verdict.checks]

        node.batcher.drain()
        after = _receipt(client, person(0)["record_id"])
        assert verify_receipt(after, node.chain.client.w3).ok
        assert after["block_number"] != before["block_number"]
        registry = node.chain.registry.functions
        assert registry.batchCount().call() == 1  # anchored once, not twice


def test_batch_dropped_by_a_real_reorg_is_anchored_again(anvil, tmp_path):
    with _node_on(anvil, tmp_path / "data") as client:
        node = node_of(client)
        submit(client, [person(i) for i in range(3)])
        node.batcher.drain()
        first = _receipt(client, person(1)["record_id"])
        rpc(anvil, "anvil_reorg", [1, []])
        assert not verify_receipt(first, node.chain.client.w3).ok

        node.batcher.drain()
        again = _receipt(client, person(1)["record_id"])
        assert verify_receipt(again, node.chain.client.w3).ok


def test_records_taken_while_the_chain_is_down_are_anchored_when_it_returns(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = tmp_path / "anvil-state.json"
    cmd = [str(ANVIL), "--port", str(port), "--silent", "--state", str(state)]
    chain = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: rpc(url, "eth_chainId"), what="anvil")
        with _node_on(url, tmp_path / "data") as client:
            node = node_of(client)
            submit(client, [person(1)])
            node.batcher.drain()
            chain.terminate()
            chain.wait(10)

            answer = submit(client, [person(2), person(3)])  # the API still takes records
            assert answer["accepted"] == 2
            try:
                node.batcher.step()
            except Exception:
                pass  # the chain is down; the records wait
            assert client.get("/v1/records/" + person(2)["record_id"]).json()["state"] == "pending"

            chain = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: rpc(url, "eth_chainId"), what="anvil again")
            node.batcher.drain()
            for seq in (1, 2, 3):
                receipt = _receipt(client, person(seq)["record_id"])
                assert verify_receipt(receipt, node.chain.client.w3).ok
    finally:
        chain.terminate()
        chain.wait(10)
