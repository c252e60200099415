"""A suspended member's node still keeps the records it accepts, and says that they cannot be
anchored until the consortium reinstates it, in the submission's answer and in /v1/status."""

import dataclasses

from eth_account import Account
from fastapi.testclient import TestClient

from node.app import create_app
from node.chain.client import ChainClient
from node.chain.deploy import Founder
from node.chain.setup import found_consortium
from node.keys.store import load_secrets
from node.members import service
from tests.conftest import authorize, make_settings, node_of, person, rpc, submit


def test_a_suspended_members_node_says_its_records_wait(anvil, tmp_path) -> None:
    data = tmp_path / "data"
    me = load_secrets(data / "keys").member
    other = Account.create()  # the other founding admin, who votes this member's suspension
    rpc(anvil, "anvil_setBalance", [other.address, hex(10**21)])
    founders = [Founder.of(me, "本行"), Founder.of(other, "他行")]
    found_consortium(data=data, rpc=anvil, member=me, founders=founders, threshold=1)

    with TestClient(create_app(make_settings(data, anvil), run_batcher=False)) as client:
        authorize(client, "admin")
        node = node_of(client)
        first = submit(client, [person(1)])
        assert "warning" not in first
        assert client.get("/v1/status").json()["anchoring"] == "running"

        as_other = dataclasses.replace(node.chain, client=ChainClient(node.chain.client.w3, other))
        suspended = service.propose(chain=as_other, action="suspend", subject=me.address)
        assert suspended["state"] == "executed"
        node.index.catch_up()

        answer = client.post("/v1/records", json={"records": [person(2)]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 1
        assert "suspended" in answer.json()["warning"] and "kept" in answer.json()["warning"]
        assert client.get("/v1/records/" + person(2)["record_id"]).json()["state"] == "pending"
        assert client.get("/v1/status").json()["anchoring"] == "paused: member suspended"

        service.propose(chain=as_other, action="reinstate", subject=me.address)
        node.index.catch_up()
        assert "warning" not in submit(client, [person(3)])
        assert client.get("/v1/status").json()["anchoring"] == "running"
        node.batcher.drain()
        assert client.get("/v1/records/" + person(2)["record_id"]).json()["state"] == "anchored"
