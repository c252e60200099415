"""Members and governance through the API, and requests between member nodes."""

import dataclasses

import pytest
from coincurve import PublicKey
from eth_account import Account
from fastapi.testclient import TestClient

from node.app import create_app
from node.chain.client import ChainClient
from node.members import service
from node.peers.signing import signed_headers
from tests.conftest import authorize, make_settings, node_of, rpc


@pytest.fixture
def gov(anvil, tmp_path):
    """A lone founding member's node on anvil (M = 1), and another funded account."""
    other = Account.create()
    rpc(anvil, "anvil_setBalance", [other.address, hex(10**21)])
    with TestClient(create_app(make_settings(tmp_path / "data", anvil), run_batcher=False)) as c:
        authorize(c, "admin")
        yield c, other


def _admit(client: TestClient, account) -> dict:  # type: ignore[no-untyped-def]
    key = PublicKey.from_secret(bytes(account.key)).format(compressed=False)
    resp = client.post("/v1/proposals", json={
        "action": "admit", "subject": account.address, "name": "第二家贷款公司",
        "node_url": "http://127.0.0.1:9999", "public_key": "0x" + key.hex()})  # fmt: skip
    assert resp.status_code == 200, resp.text
    return resp.json()


def _hello(client: TestClient, account, body: bytes = b"") -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    chain = node_of(client).chain
    headers = signed_headers(account, chain_id=chain.chain_id,
                             contract=chain.addresses["Consortium"], method="GET",
                             path="/v1/peer/hello", body=body)  # fmt: skip
    resp = client.get("/v1/peer/hello", headers=headers)
    return resp.status_code, resp.json()


def test_members_lists_the_founder_as_active_admin(gov):
    client, _ = gov
    members = client.get("/v1/members").json()
    me = node_of(client).chain.client.account.address
    assert [(m["address"], m["status"], m["roles"]) for m in members] == [(me, "active", ["admin"])]


def test_admitted_member_is_served_and_refused_once_removed(gov):
    client, other = gov
    proposal = _admit(client, other)
    assert proposal["state"] == "executed" and proposal["candidate"]["name"] == "第二家贷款公司"
    listed = {m["address"]: m for m in client.get("/v1/members").json()}
    assert listed[other.address]["status"] == "active"
    assert listed[other.address]["node_url"] == "http://127.0.0.1:9999"

    status, answer = _hello(client, other)
    assert status == 200 and answer["member"] == other.address

    stranger = Account.create()
    assert _hello(client, stranger)[0] == 403

    removal = client.post("/v1/proposals", json={"action": "remove", "subject": other.address})
    assert removal.json()["state"] == "executed"
    status, answer = _hello(client, other)
    assert status == 403 and answer["error"] == "not_an_active_member"


def test_unsigned_replayed_or_tampered_peer_requests_are_refused(gov):
    client, _ = gov
    assert client.get("/v1/peer/hello").status_code == 401
    node = node_of(client)
    me = node.chain.client.account
    headers = signed_headers(me, chain_id=node.chain.chain_id,
                             contract=node.chain.addresses["Consortium"], method="GET",
                             path="/v1/peer/hello", body=b"")  # fmt: skip
    assert client.get("/v1/peer/hello", headers=headers).status_code == 200
    again = client.get("/v1/peer/hello", headers=headers)
    assert again.status_code == 401 and again.json()["error"] == "replayed_request"
    forged = dict(headers, **{"X-Creditchain-Member": Account.create().address})
    assert client.get("/v1/peer/hello", headers=forged).json()["error"] == "bad_signature"


def test_vote_on_a_closed_proposal_is_refused_with_the_reason(gov):
    client, other = gov
    proposal = _admit(client, other)
    resp = client.post(f"/v1/proposals/{proposal['id']}/votes")
    assert resp.status_code == 409 and resp.json()["error"] == "proposal_closed"
    assert client.post("/v1/proposals/99/votes").json()["error"] == "unknown_proposal"
    assert client.get("/v1/proposals").json() == []  # nothing left open
    assert len(client.get("/v1/proposals?all=true").json()) == 1


def test_vote_or_proposal_by_a_non_admin_member_is_refused(gov):
    client, other = gov
    proposal = _admit(client, other)
    chain = node_of(client).chain
    as_other = dataclasses.replace(chain, client=ChainClient(chain.client.w3, other))
    with pytest.raises(service.GovernanceRefused) as err:
        service.vote(chain=as_other, proposal_id=proposal["id"])
    assert isinstance(err.value, service.NotAdmin)
    assert err.value.status == 403 and err.value.code == "not_admin"
    with pytest.raises(service.GovernanceRefused):
        service.propose(chain=as_other, action="suspend", subject=chain.client.account.address)


def test_proposal_with_a_bad_field_is_a_422_naming_it(gov):
    client, _ = gov
    resp = client.post("/v1/proposals", json={"action": "admit", "subject": "0x1234"})
    assert resp.status_code == 422 and resp.json()["field"] == "subject"
    resp = client.post("/v1/proposals", json={"action": "crown", "subject": "0x" + "1" * 40})
    assert resp.json()["field"] == "action"
    assert client.get("/v1/proposals?all=true").json() == []  # nothing was proposed


def test_only_the_node_admin_proposes_and_votes_for_the_member(gov):
    client, other = gov
    authorize(client, "submitter")
    resp = client.post("/v1/proposals", json={"action": "suspend", "subject": other.address})
    assert resp.status_code == 403 and resp.json()["error"] == "forbidden"
    assert client.get("/v1/members").status_code == 200  # any staff may read
    client.headers.pop("Authorization")
    assert client.get("/v1/members").status_code == 401
