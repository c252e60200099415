"""The bindings and consents API on a node with its embedded chain: binding at the desk, the
typed data a wallet signs, relaying a borrower's consent and revocation with no staff token,
each refusal with its own code and field and nothing sent, and any wallet (ethers.js) signs."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from node.app import create_app
from node.consents.errors import ConsentRevoked
from node.consents.service import check_consent, get_consent, subject_of_address
from node.crypto import eip712
from node.crypto.subjects import make_resident_id, subject_key
from tests.conftest import (
    REPO,
    authorize,
    bind_borrower,
    make_settings,
    node_of,
    pubkey,
    staff_token,
    whole_operator_log,
)

DAY = 24 * 3600
ID_NUMBER = make_resident_id(7)
SCRIPT = REPO / "tests" / "js" / "typed_data.mjs"


def ethers(request: dict[str, Any]) -> dict[str, Any]:
    """Run the ethers.js script under Node with one request; its answer."""
    done = subprocess.run(
        ["node", str(SCRIPT)], input=json.dumps(request), capture_output=True, text=True,
        cwd=REPO, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def typed(client: TestClient, subject: str, **overrides: Any) -> dict[str, Any]:
    """The consent typed data the node hands out: for the node's member, loan application,
    from yesterday for 30 days, unless overridden."""
    now = int(time.time())
    params = {"subject_key": subject, "grantee": node_of(client).chain.client.account.address,
              "purpose": "loan_application", "valid_from": now - DAY,
              "valid_until": now + 30 * DAY, "nonce": "1"}  # fmt: skip
    params.update(overrides)
    resp = client.get("/v1/consents/typed-data", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def relay(client: TestClient, data: dict[str, Any], signer: LocalAccount, **body: Any) -> Any:
    payload = {"message": data["message"], "signature": eip712.sign(data, signer.key),
               "borrower": signer.address, **body}  # fmt: skip
    return client.post("/v1/consents", json=payload, headers={"Authorization": ""})


@pytest.fixture
def bound(node_client: TestClient) -> tuple[TestClient, LocalAccount, str]:
    """The node, a borrower bound at its desk, and the borrower's subject key."""
    borrower = Account.create()
    resp = bind_borrower(node_client, borrower.address)
    assert resp.status_code == 200, resp.text
    return node_client, borrower, resp.json()["subject_key"]


def _head(client: TestClient) -> int:
    return node_of(client).chain.client.block_number()


def test_binding_at_the_desk_puts_the_pseudonym_on_chain_never_the_identity(
    node_client: TestClient,
) -> None:
    node = node_of(node_client)
    borrower = Account.create()
    resp = bind_borrower(node_client, borrower.address.lower())
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    expected = subject_key(node.keys.consortium_secret, "person", ID_NUMBER)
    assert (answer["subject_key"], answer["address"]) == (expected, borrower.address)
    assert answer["member"] == node.chain.client.account.address
    assert subject_of_address(node.index, address=borrower.address) == expected
    entries = whole_operator_log(node_client)
    assert ID_NUMBER not in json.dumps(entries)
    assert any(e.get("target") == borrower.address for e in entries)
    receipt = node.chain.client.receipt(answer["tx_hash"])
    assert receipt is not None and ID_NUMBER.encode().hex() not in json.dumps(str(receipt))
    public = node_client.get(
        "/v1/bindings", params={"address": borrower.address}, headers={"Authorization": ""}
    )
    assert public.status_code == 200 and public.json() == answer
    assert int(public.headers["X-Creditchain-As-Of-Block"]) >= answer["block_number"]
    unknown = node_client.get("/v1/bindings", params={"address": Account.create().address})
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_bound")


def test_who_may_bind_and_what_is_refused(node_client: TestClient) -> None:
    node = node_of(node_client)
    head = _head(node_client)
    bad = bind_borrower(node_client, Account.create().address, ID_NUMBER[:-1] + "0")
    assert bad.status_code == 422 and bad.json()["field"] == "subject.id_number", bad.text
    assert ID_NUMBER[:-1] not in bad.text
    for role, status in (("submitter", 403), ("internal_auditor", 403), ("query_operator", 200)):
        token = staff_token(node_client, role)
        resp = node_client.post(
            "/v1/bindings", headers={"Authorization": f"Bearer {token}"},
            json={"subject": {"type": "person", "id_number": ID_NUMBER},
                  "address": Account.create().address},
        )  # fmt: skip
        assert resp.status_code == status, (role, resp.text)
    assert _head(node_client) == head + 1  # only the query operator's binding was sent
    address = Account.create().address
    assert bind_borrower(node_client, address).status_code == 200
    again = bind_borrower(node_client, address, make_resident_id(8))
    assert again.status_code == 409 and again.json()["error"] == "address_bound"
    assert subject_of_address(node.index, address=address) == subject_key(
        node.keys.consortium_secret, "person", ID_NUMBER
    )


def test_a_lost_key_is_unbound_by_its_binder_and_a_new_one_bound(bound: tuple) -> None:
    client, lost, subject = bound
    node = node_of(client)
    unknown = client.post("/v1/bindings/unbind", json={"address": Account.create().address})
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_bound"
    resp = client.post("/v1/bindings/unbind", json={"address": lost.address})
    assert resp.status_code == 200, resp.text
    assert subject_of_address(node.index, address=lost.address) is None
    refused = relay(client, typed(client, subject), lost)
    assert refused.status_code == 403 and refused.json()["error"] == "unbound_signer"
    new = Account.create()
    assert bind_borrower(client, new.address).json()["subject_key"] == subject
    assert relay(client, typed(client, subject), new).status_code == 200


def test_only_the_member_that_bound_an_address_unbinds_it(bound: tuple) -> None:
    client, _, subject = bound
    other, theirs = Account.create(), Account.create().address
    _another_member_binds(client, other, subject, theirs)
    assert subject_of_address(node_of(client).index, address=theirs) == subject
    head = _head(client)
    resp = client.post("/v1/bindings/unbind", json={"address": theirs})
    assert resp.status_code == 403 and resp.json()["error"] == "not_binder", resp.text
    assert _head(client) == head
    assert subject_of_address(node_of(client).index, address=theirs) == subject


def _another_member_binds(client: TestClient, other: LocalAccount, subject: str, address: str):  # type: ignore[no-untyped-def]
    """Admit `other` (M = 1: the node's vote carries it), give it gas, and let it bind."""
    node = node_of(client)
    resp = client.post("/v1/proposals", json={
        "action": "admit", "subject": other.address, "name": "Other Lender",
        "public_key": "0x" + pubkey(other.address).hex()})  # fmt: skip
    assert resp.status_code == 200, resp.text
    w3, chain_id = node.chain.client.w3, node.chain.chain_id
    with node.chain.client.lock:
        member = node.chain.client.account
        gas = {"to": other.address, "value": 10**18, "gas": 21_000, "chainId": chain_id,
               "gasPrice": w3.eth.gas_price,
               "nonce": w3.eth.get_transaction_count(member.address, "pending")}  # fmt: skip
        w3.eth.send_raw_transaction(member.sign_transaction(gas).raw_transaction)
        node.chain.client.reset_nonce()
        registry = w3.eth.contract(
            address=node.chain.addresses["ConsentRegistry"],
            abi=node.chain.abis["ConsentRegistry"],
        )
        tx = registry.functions.bind(subject, address).build_transaction(
            {"from": other.address, "nonce": 0, "gas": 300_000, "chainId": chain_id,
             "gasPrice": w3.eth.gas_price})  # fmt: skip
        sent = w3.eth.send_raw_transaction(other.sign_transaction(tx).raw_transaction)
        assert w3.eth.wait_for_transaction_receipt(sent).status == 1
    assert node.index.catch_up(timeout=60)


def test_typed_data_is_what_a_wallet_signs(node_client: TestClient) -> None:
    node = node_of(node_client)
    subject = "0x" + "ab" * 32
    data = typed(node_client, subject, purpose="3", nonce=str(2**255))
    assert set(data) == {"types", "primaryType", "domain", "message"}
    assert data["primaryType"] == "Consent"
    assert [f["name"] for f in data["types"]["EIP712Domain"]] == [
        "name", "version", "chainId", "verifyingContract"]  # fmt: skip
    assert data["domain"] == {
        "name": "creditchain",
        "version": "1",
        "chainId": node.chain.chain_id,
        "verifyingContract": node.chain.addresses["ConsentRegistry"],
    }
    message = data["message"]
    assert (message["purpose"], message["nonce"], message["subjectKey"]) == (
        3,
        str(2**255),
        subject,
    )
    assert isinstance(message["validFrom"], int) and isinstance(message["validUntil"], int)
    by_name = typed(node_client, subject, purpose="post_loan_management", nonce=str(2**255))
    assert by_name == data
    for params, field in (({"purpose": "fishing"}, "purpose"), ({"purpose": "6"}, "purpose"),
                          ({"grantee": "0x12"}, "grantee"), ({"valid_until": -1}, "valid_until"),
                          ({"nonce": "1e5"}, "nonce")):  # fmt: skip
        full = {
            "subject_key": subject,
            "grantee": node.chain.client.account.address,
            "purpose": 0,
            "valid_from": 0,
            "valid_until": 1,
            "nonce": "1",
            **params,
        }
        resp = node_client.get("/v1/consents/typed-data", params=full)
        assert resp.status_code == 422 and resp.json()["field"] == field, resp.text
    consent_id = "0x" + "cd" * 32
    revocation = node_client.get(
        "/v1/consents/revocation-typed-data", params={"consent_id": consent_id}
    ).json()
    assert revocation["primaryType"] == "Revocation"
    assert revocation["message"] == {"consentId": consent_id}
    assert revocation["types"]["Revocation"] == [{"name": "consentId", "type": "bytes32"}]


def test_a_consent_signed_with_ethers_is_relayed_without_a_staff_token(bound: tuple) -> None:
    client, borrower, subject = bound
    node = node_of(client)
    data = typed(client, subject, nonce=str(2**200))
    signed = ethers({"sign": data, "key": "0x" + bytes(borrower.key).hex()})
    assert signed["address"] == borrower.address
    body = {"message": data["message"], "signature": signed["signature"],
            "borrower": borrower.address}  # fmt: skip
    resp = client.post("/v1/consents", json=body, headers={"Authorization": ""})
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["consent_id"] == "0x" + eip712.digest(data).hex()
    receipt = node.chain.client.receipt(answer["tx_hash"])
    assert receipt is not None and receipt["blockNumber"] == answer["block_number"]
    registry = node.chain.client.contract(
        node.chain.addresses["ConsentRegistry"], node.chain.abis["ConsentRegistry"]
    )
    assert registry.functions.isValid(answer["consent_id"], data["message"]["grantee"], 0).call()
    consent = check_consent(node.index, consent_id=answer["consent_id"], subject_key=subject,
                            grantee=data["message"]["grantee"], purpose="loan_application",
                            at=int(time.time()))  # fmt: skip
    assert (consent.borrower, consent.nonce) == (borrower.address, 2**200)


def test_what_the_node_signs_verifies_in_ethers(node_client: TestClient) -> None:
    borrower = Account.create()
    data = typed(node_client, "0x" + "ab" * 32, nonce=str(10**77 - 1))
    signature = eip712.sign(data, borrower.key)
    assert ethers({"verify": data, "signature": signature})["address"] == borrower.address
    revocation = node_client.get(
        "/v1/consents/revocation-typed-data", params={"consent_id": "0x" + "cd" * 32}
    ).json()
    signature = eip712.sign(revocation, borrower.key)
    assert ethers({"verify": revocation, "signature": signature})["address"] == borrower.address


def test_each_relay_refusal_has_its_own_code_and_field_and_sends_nothing(bound: tuple) -> None:
    client, borrower, subject = bound
    now = int(time.time())
    stranger = Account.create()
    good = typed(client, subject)
    assert relay(client, good, borrower).status_code == 200
    head = _head(client)
    forged = {"message": good["message"], "signature": eip712.sign(good, stranger.key),
              "borrower": borrower.address}  # fmt: skip
    tampered = {**good["message"], "purpose": 1}
    cases = [
        (client.post("/v1/consents", json=forged), 403, "forged_signature", "signature"),
        (client.post("/v1/consents", json={**forged, "message": tampered,
                     "signature": eip712.sign(good, borrower.key)}),
         403, "forged_signature", "signature"),
        (relay(client, typed(client, subject), stranger), 403, "unbound_signer", "borrower"),
        (relay(client, typed(client, "0x" + "cd" * 32), borrower), 403, "unbound_signer",
         "borrower"),
        (relay(client, typed(client, subject, valid_from=now - 9 * DAY, valid_until=now - DAY),
               borrower), 422, "consent_expired", "message.validUntil"),
        (relay(client, typed(client, subject, valid_from=now, valid_until=now + 366 * DAY),
               borrower), 422, "window_too_long", "message.validUntil"),
        (relay(client, typed(client, subject, valid_from=now + DAY, valid_until=now + DAY),
               borrower), 422, "invalid_window", "message.validUntil"),
        (relay(client, typed(client, subject, grantee=stranger.address), borrower),
         422, "grantee_not_active", "message.grantee"),
        (relay(client, _with_purpose(client, subject, 6), borrower),
         422, "unknown_purpose", "message.purpose"),
        (relay(client, good, borrower), 409, "consent_exists", "message"),
    ]  # fmt: skip
    for resp, status, code, field in cases:
        assert (resp.status_code, resp.json()["error"], resp.json()["field"]) == (
            status, code, field), resp.text  # fmt: skip
    assert _head(client) == head  # not one transaction


def _with_purpose(client: TestClient, subject: str, purpose: int) -> dict[str, Any]:
    """Typed data with a purpose no list holds (the endpoint hands out listed ones only)."""
    data = typed(client, subject)
    data["message"]["purpose"] = purpose
    return data


def test_the_node_setting_caps_the_window_before_relaying(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path / "data", consent_max_window=7 * DAY)
    with TestClient(create_app(settings, run_batcher=False)) as client:
        authorize(client, "admin")
        borrower = Account.create()
        subject = bind_borrower(client, borrower.address).json()["subject_key"]
        now = int(time.time())
        week = relay(client, typed(client, subject, valid_from=now, valid_until=now + 7 * DAY),
                     borrower)  # fmt: skip
        assert week.status_code == 200, week.text
        longer = typed(client, subject, valid_from=now, valid_until=now + 7 * DAY + 1)
        resp = relay(client, longer, borrower)
        assert (resp.status_code, resp.json()["error"]) == (422, "window_too_long")


def test_a_revocation_signed_by_the_borrower_takes_effect_at_once(bound: tuple) -> None:
    client, borrower, subject = bound
    node = node_of(client)
    consent_id = relay(client, typed(client, subject), borrower).json()["consent_id"]
    revocation = client.get(
        "/v1/consents/revocation-typed-data", params={"consent_id": consent_id}
    ).json()
    path = f"/v1/consents/{consent_id}/revoke"
    stranger, other = Account.create(), Account.create()
    assert bind_borrower(client, other.address, make_resident_id(9)).status_code == 200
    head = _head(client)
    cases = [
        ({"signature": eip712.sign(revocation, stranger.key), "borrower": borrower.address},
         403, "forged_signature"),
        ({"signature": eip712.sign(revocation, stranger.key), "borrower": stranger.address},
         403, "unbound_signer"),
        ({"signature": eip712.sign(revocation, other.key), "borrower": other.address},
         403, "unbound_signer"),
    ]  # fmt: skip
    for body, status, code in cases:
        resp = client.post(path, json=body, headers={"Authorization": ""})
        assert (resp.status_code, resp.json()["error"]) == (status, code), resp.text
    unknown = client.post(f"/v1/consents/0x{'ee' * 32}/revoke", json=cases[0][0])
    assert (unknown.status_code, unknown.json()["error"]) == (404, "consent_not_found")
    assert _head(client) == head

    signed = ethers({"sign": revocation, "key": "0x" + bytes(borrower.key).hex()})
    body = {"signature": signed["signature"], "borrower": borrower.address}
    resp = client.post(path, json=body, headers={"Authorization": ""})
    assert resp.status_code == 200, resp.text
    consent = get_consent(node.index, consent_id=consent_id)
    assert consent is not None and consent.revoked_block == resp.json()["block_number"]
    assert consent.revoked_at is not None
    with pytest.raises(ConsentRevoked):
        check_consent(node.index, consent_id=consent_id, subject_key=subject,
                      grantee=consent.grantee, purpose=0, at=consent.revoked_at)  # fmt: skip
    again = client.post(path, json=body)
    assert (again.status_code, again.json()["error"]) == (409, "consent_revoked")
