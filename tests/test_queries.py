"""Queries between members: every refusal by its own code, the answer and its check against
the chain, the query log and the borrower's trail."""

import asyncio
import dataclasses
import secrets
import time
from typing import Any

import httpx
import orjson
import pytest
from coincurve import PublicKey
from eth_account import Account
from eth_account.messages import encode_typed_data
from fastapi.testclient import TestClient

from node.chain.client import ChainClient
from node.consents import service as consents
from node.consents.purposes import PURPOSES
from node.crypto import eip712
from node.crypto.subjects import make_resident_id, subject_key
from node.members import service as members_service
from node.peers import router as peers_router
from node.peers import signing
from node.queries import requester
from node.queries import service as query_service
from node.queries.log import QueryEntry, QueryLog
from node.queries.verify import AnswerRejected, BatchBook, verify_answer
from node.receipts.verify import verify_receipt
from tests.conftest import bearer, person, staff_token, submit, wait_for

DAY = 86_400


@dataclasses.dataclass
class World:
    client: TestClient
    node: Any
    asker: Any  # an admitted member's account
    other: Any  # another admitted member's account
    borrower: Any
    subject: str  # the subject key the holder's records are about

    def send(self, fn: Any) -> Any:
        tx = self.node.chain.client.send(fn, gas=800_000)
        receipt = self.node.chain.client.wait_receipt(tx)
        assert receipt is not None and receipt["status"] == 1, receipt
        return receipt

    @property
    def registry(self) -> Any:
        chain = self.node.chain
        return chain.client.contract(chain.addresses["ConsentRegistry"],
                                     chain.abis["ConsentRegistry"])  # fmt: skip

    def consent(self, *, grantee: str | None = None, purpose: str = "loan_application",
                valid_from: int | None = None, valid_until: int | None = None,
                subject: str | None = None) -> str:  # fmt: skip
        """A consent signed by the borrower and relayed by the holder; its id."""
        now = int(time.time())
        message = {
            "subjectKey": subject or self.subject, "grantee": grantee or self.asker.address,
            "purpose": PURPOSES.index(purpose), "validFrom": now - 60 if valid_from is None
            else valid_from, "validUntil": now + DAY if valid_until is None else valid_until,
            "nonce": int.from_bytes(Account.create().key[:8], "big"),
        }  # fmt: skip
        chain = self.node.chain
        data = eip712.consent_typed_data(
            message, eip712.domain(chain.chain_id, chain.addresses["ConsentRegistry"])
        )
        signature = eip712.sign(data, self.borrower.key)
        values = tuple(message[f["name"]] for f in eip712.CONSENT_FIELDS)
        self.send(
            self.registry.functions.registerConsent(
                (bytes.fromhex(values[0][2:]), *values[1:]), bytes.fromhex(signature[2:])
            )
        )
        consent_id = "0x" + eip712.digest(data).hex()
        wait_for(lambda: consents.get_consent(self.node.engine, consent_id=consent_id),
                 what="the consent in the index")  # fmt: skip
        return consent_id

    def revoke(self, consent_id: str) -> None:
        chain = self.node.chain
        data = eip712.revocation_typed_data(
            consent_id, eip712.domain(chain.chain_id, chain.addresses["ConsentRegistry"])
        )
        signature = eip712.sign(data, self.borrower.key)
        self.send(self.registry.functions.revokeConsent(bytes.fromhex(consent_id[2:]),
                                                        bytes.fromhex(signature[2:])))  # fmt: skip
        wait_for(lambda: consents.get_consent(self.node.engine, consent_id=consent_id).revoked_at,
                 what="the revocation in the index")  # fmt: skip

    def ask(self, consent_id: str, *, account: Any = None, purpose: str = "loan_application",
            subject: str | None = None, issued_at: int | None = None,
            nonce: str | None = None) -> httpx.Response:  # fmt: skip
        body, headers = self.request(consent_id, account=account, purpose=purpose,
                                     subject=subject, issued_at=issued_at, nonce=nonce)  # fmt: skip
        return self.client.post(requester.PEER_PATH, content=body, headers=headers)

    def request(self, consent_id: str, *, account: Any = None, purpose: str = "loan_application",
                subject: str | None = None, issued_at: int | None = None,
                nonce: str | None = None) -> tuple[bytes, dict[str, str]]:  # fmt: skip
        chain = self.node.chain
        return requester.peer_request(
            account or self.asker, chain_id=chain.chain_id,
            consortium=chain.addresses["Consortium"], consent_id=consent_id,
            subject_key=subject or self.subject, purpose=purpose, issued_at=issued_at,
            nonce=nonce,
        )  # fmt: skip


def _admit(client: TestClient, account: Any, name: str, url: str) -> None:
    resp = client.post("/v1/proposals", json={
        "action": "admit", "subject": account.address, "name": name, "node_url": url,
        "public_key": "0x" + PublicKey.from_secret(bytes(account.key)).format(False).hex(),
    })  # fmt: skip
    assert resp.status_code == 200 and resp.json()["state"] == "executed", resp.text


def _member_status(client: TestClient, address: str) -> str:
    return {m["address"]: m["status"] for m in client.get("/v1/members").json()}[address]


@pytest.fixture
def world(node_client: TestClient) -> World:
    """A holder (the node) with two anchored records about one borrower, bound there; two
    other admitted members."""
    client, node = node_client, node_client.app.state.node
    asker, other, borrower = Account.create(), Account.create(), Account.create()
    _admit(client, asker, "第二家贷款公司", "http://asker.example:8700")
    _admit(client, other, "第三家贷款公司", "http://other.example:8700")
    wait_for(lambda: _member_status(client, other.address) == "active", what="admission indexed")
    submit(client, [person(7, kind="loan_opened", record_id="LN-7", account_id="AC-7",
                           amount_cents=500_000, days_past_due=None),
                    person(7, record_id="LN-7-OD", account_id="AC-7")])  # fmt: skip
    node.batcher.drain()
    key = subject_key(node.keys.consortium_secret, "person", make_resident_id(7))
    w = World(client, node, asker, other, borrower, key)
    w.send(w.registry.functions.bind(bytes.fromhex(key[2:]), borrower.address))
    wait_for(lambda: consents.subject_of_address(node.engine, address=borrower.address) == key,
             what="the binding in the index")  # fmt: skip
    return w


def _refused(resp: httpx.Response, status: int, code: str) -> None:
    assert (resp.status_code, resp.json()["error"]) == (status, code), resp.text


def _log_size(world: World) -> int:
    with world.node.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT COUNT(*) FROM query_log").scalar_one()


def test_a_member_with_the_borrowers_consent_gets_the_records_with_receipts(world):
    resp = world.ask(world.consent())
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["holder"] == world.node.chain.client.account.address
    assert sorted(r["record"]["record_id"] for r in answer["records"]) == ["LN-7", "LN-7-OD"]
    assert all(r["record"]["subject_key"] == world.subject for r in answer["records"])
    assert int(resp.headers["X-Creditchain-As-Of-Block"]) == answer["as_of_block"]
    for receipt in answer["records"]:
        assert verify_receipt(receipt, world.node.chain.client.w3).ok
    assert _log_size(world) == 1


def test_no_consent(world):
    _refused(world.ask("0x" + "ab" * 32), 403, "consent_not_found")


def test_consent_for_another_member(world):
    _refused(world.ask(world.consent(grantee=world.other.address)), 403, "consent_other_member")


def test_consent_for_another_purpose(world):
    consent = world.consent(purpose="post_loan_management")
    _refused(world.ask(consent, purpose="loan_application"), 403, "consent_other_purpose")


def test_consent_about_another_subject(world):
    other = subject_key(world.node.keys.consortium_secret, "person", make_resident_id(8))
    _refused(world.ask(world.consent(), subject=other), 403, "consent_other_subject")


def test_consent_not_yet_valid(world):
    now = int(time.time())
    consent = world.consent(valid_from=now + 3600, valid_until=now + DAY)
    _refused(world.ask(consent), 403, "consent_not_yet_valid")


def test_consent_expired(world):
    until = world.node.chain.client.w3.eth.get_block("latest")["timestamp"] + 8
    consent = world.consent(valid_until=until)
    assert world.ask(consent).status_code == 200
    time.sleep(max(0.0, until + 1 - time.time()))
    _refused(world.ask(consent), 403, "consent_expired")


def test_consent_revoked(world):
    consent = world.consent()
    assert world.ask(consent).status_code == 200
    world.revoke(consent)
    _refused(world.ask(consent), 403, "consent_revoked")


def test_replayed_request(world):
    body, headers = world.request(world.consent())
    assert world.client.post(requester.PEER_PATH, content=body, headers=headers).status_code == 200
    again = world.client.post(requester.PEER_PATH, content=body, headers=headers)
    _refused(again, 401, "replayed_request")
    assert _log_size(world) == 1


def test_query_nonce_used_again_under_new_headers_is_a_replay(world):
    consent = world.consent()
    assert world.ask(consent, nonce="0x" + "11" * 32).status_code == 200
    _refused(world.ask(consent, nonce="0x" + "11" * 32), 401, "replayed_request")


def test_a_query_answered_before_a_restart_is_still_a_replay(world, monkeypatch):
    consent = world.consent()
    assert world.ask(consent, nonce="0x" + "22" * 32).status_code == 200
    monkeypatch.setattr(query_service, "_nonces", signing.NonceBook())  # a restart forgets it
    _refused(world.ask(consent, nonce="0x" + "22" * 32), 401, "replayed_request")


def test_stale_request(world):
    _refused(world.ask(world.consent(), issued_at=int(time.time()) - 3600), 401, "stale_request")


def test_suspended_requester(world):
    consent = world.consent()
    assert world.ask(consent).status_code == 200  # its standing read once, while active
    suspend = {"action": "suspend", "subject": world.asker.address}
    resp = world.client.post("/v1/proposals", json=suspend)
    assert resp.json()["state"] == "executed", resp.text
    wait_for(lambda: _member_status(world.client, world.asker.address) == "suspended")
    _refused(world.ask(consent), 403, "requester_suspended")


def test_non_member(world):
    stranger = Account.create()
    _refused(world.ask(world.consent(), account=stranger), 403, "not_a_member")
    assert _log_size(world) == 0


def test_strangers_signed_requests_leave_no_nonce_held(world):
    """A key costs a stranger nothing to make: the node refuses its signed requests without
    keeping their nonces (which it holds for two minutes for a member's)."""
    held = len(query_service._header_nonces), len(peers_router._nonces)
    chain = world.node.chain
    for _ in range(20):
        stranger = Account.create()
        _refused(world.ask("0x" + "00" * 32, account=stranger), 403, "not_a_member")
        headers = signing.signed_headers(stranger, chain_id=chain.chain_id, method="GET",
                                         contract=chain.addresses["Consortium"],
                                         path="/v1/peer/hello", body=b"")  # fmt: skip
        _refused(world.client.get("/v1/peer/hello", headers=headers), 403,
                 "not_an_active_member")  # fmt: skip
    assert (len(query_service._header_nonces), len(peers_router._nonces)) == held
    assert world.ask("0x" + "00" * 32).json()["error"] == "consent_not_found"  # a member's
    assert len(query_service._header_nonces) == held[0] + 1


def test_a_holder_that_alters_one_byte_of_one_record_is_caught_naming_it(world):
    answer = world.ask(world.consent()).json()
    holder = answer["holder"]
    checked = verify_answer(world.node.chain, BatchBook(world.node.chain), holder=holder,
                            subject_key=world.subject, receipts=answer["records"])  # fmt: skip
    assert {r["chain_status"] for r in checked} == {"active"}
    victim = answer["records"][1]
    victim["record"]["amount_cents"] += 1  # one byte of the record's JSON
    with pytest.raises(AnswerRejected) as caught:
        verify_answer(world.node.chain, BatchBook(world.node.chain), holder=holder,
                      subject_key=world.subject, receipts=answer["records"])  # fmt: skip
    assert caught.value.member == holder
    assert caught.value.record_id == victim["record"]["record_id"]
    assert holder in caught.value.detail and victim["record"]["record_id"] in caught.value.detail


def test_fan_out_rejects_a_tampering_member_and_names_a_dead_one(world, monkeypatch):
    """The asker's side, its node played by this chain seen with the asker's key: the holder
    (founded on the embedded chain with no URL, given one here) answers through a proxy that
    alters one byte; the third member's node is not there."""
    consent = world.consent()
    app = world.client.app
    holder_url = "http://holder.example:8700"
    listed = members_service.list_members(index=world.node.index)
    for m in listed.value:
        if m["address"] == world.node.chain.client.account.address:
            m["node_url"] = holder_url
    monkeypatch.setattr(requester, "list_members", lambda index: listed)

    class Tampering(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if not str(request.url).startswith(holder_url.rstrip("/")):
                raise httpx.ConnectError("connection refused", request=request)
            inner = httpx.ASGITransport(app=app)
            resp = await inner.handle_async_request(request)
            body = orjson.loads(await resp.aread())
            body["records"][0]["record"]["account_id"] += "X"
            return httpx.Response(resp.status_code, content=orjson.dumps(body))

    chain = world.node.chain
    as_asker = dataclasses.replace(chain, client=ChainClient(chain.client.w3, world.asker))
    answer = asyncio.run(requester.query_members(
        chain=as_asker, index=world.node.index, log=QueryLog(world.node.engine),
        subject_key=world.subject, consent_id=consent, purpose="loan_application",
        timeout=5, transport=Tampering()))  # fmt: skip
    by_name = {m["name"]: m for m in answer["members"]}
    assert answer["partial"] is True
    assert sorted(answer["missing"]) == sorted(by_name)  # the holder (rejected), the third
    holder = next(m for m in answer["members"] if m["status"] == "rejected")
    assert holder["member"] == chain.client.account.address and holder["records"] == []
    assert holder["error"]["record_id"] in ("LN-7", "LN-7-OD")
    assert by_name["第三家贷款公司"]["status"] == "unreachable"


def _login(world: World, signer: Any, subject: str | None = None) -> dict[str, str]:
    chain = world.node.chain
    message = {"subjectKey": subject or world.subject, "node": chain.client.account.address,
               "issuedAt": int(time.time()), "nonce": "0x" + secrets.token_hex(32)}  # fmt: skip
    data = eip712.login_typed_data(
        message, eip712.domain(chain.chain_id, chain.addresses["ConsentRegistry"])
    )
    return {"X-Creditchain-Login": orjson.dumps(message).decode(),
            "X-Creditchain-Login-Signature": eip712.sign(data, signer.key)}  # fmt: skip


def test_the_trail_shows_exactly_the_queries_made_each_checkable_from_its_receipt(world):
    consent = world.consent()
    made = ["0x" + "a1" * 32, "0x" + "b2" * 32]
    for nonce in made:
        assert world.ask(consent, nonce=nonce).status_code == 200
    _refused(world.ask(consent, purpose="guarantee_review"), 403, "consent_other_purpose")
    world.node.batcher.drain()
    path = f"/v1/subjects/{world.subject}/trail"
    world.client.headers.pop("Authorization")  # no staff token: the borrower's login alone

    resp = world.client.get(path, headers=_login(world, world.borrower))
    assert resp.status_code == 200, resp.text
    trail = resp.json()
    assert [b["address"] for b in trail["bindings"]] == [world.borrower.address]
    assert [(c["consent_id"], c["revoked_at"]) for c in trail["consents"]] == [(consent, None)]
    assert trail["consents"][0]["tx_hash"] and trail["consents"][0]["registered_block"]
    queries = trail["queries"]
    assert [q["query_id"] for q in queries] == made
    assert {(q["side"], q["requester"], q["consent_id"], q["purpose"]) for q in queries} == {
        ("holder", world.asker.address, consent, "loan_application")
    }
    w3 = world.node.chain.client.w3
    for q in queries:
        receipt = q["receipt"]  # a stranger needs this alone, and the chain
        assert receipt["entry"]["query_id"] == q["query_id"]
        assert verify_receipt(receipt, w3).ok
        forged = {**receipt, "entry": {**receipt["entry"], "requester": world.other.address}}
        assert not verify_receipt(forged, w3).ok
    assert trail["blacklist"] == {"entries": [], "notices": []}  # never listed


def test_the_trail_is_the_borrowers_alone(world):
    path = f"/v1/subjects/{world.subject}/trail"
    _refused(world.client.get(path), 401, "login_required")  # a staff token is not enough
    _refused(world.client.get(path, headers=_login(world, Account.create())), 403, "login_unbound")
    other = subject_key(world.node.keys.consortium_secret, "person", make_resident_id(9))
    _refused(world.client.get(f"/v1/subjects/{other}/trail", headers=_login(world, world.borrower)),
             403, "login_other_subject")  # fmt: skip


def test_signed_peer_requests_hash_exactly_as_eip712s_general_encoder():
    message = {"member": Account.create().address, "method": "POST", "path": requester.PEER_PATH,
               "bodyHash": secrets.token_bytes(32), "timestamp": int(time.time()),
               "nonce": secrets.token_bytes(32)}  # fmt: skip
    contract = Account.create().address
    domain = {"name": "creditchain", "version": "1", "chainId": 1337,
              "verifyingContract": contract}  # fmt: skip
    general = encode_typed_data(domain_data=domain, message_types=signing._TYPES,
                                message_data=message)  # fmt: skip
    assert signing._typed(1337, contract, message) == general


def test_a_request_signature_is_recovered_as_eth_account_recovers_it_and_forgeries_refused():
    account, contract, path = Account.create(), Account.create().address, requester.PEER_PATH
    args = {"method": "POST", "path": path, "body": b"{}", "chain_id": 1337, "contract": contract,
            "admit": lambda _: None}  # fmt: skip
    for _ in range(50):
        signed = signing.signed_headers(account, chain_id=1337, contract=contract,
                                        method="POST", path=path, body=b"{}")  # fmt: skip
        headers = {k.lower(): v for k, v in signed.items()}  # as the server hands them over
        signer = signing.verify(headers=headers, nonces=signing.NonceBook(), **args)
        assert signer == account.address
    signature = bytes.fromhex(headers["x-creditchain-signature"][2:])
    for k in range(65):  # one bit changed anywhere: not this member's signature
        forged = bytearray(signature)
        forged[k] ^= 1
        with pytest.raises(signing.BadSignature):
            signing.verify(headers={**headers, "x-creditchain-signature": "0x" + forged.hex()},
                           nonces=signing.NonceBook(), **args)  # fmt: skip
    with pytest.raises(signing.BadSignature):  # another body than the one signed
        signing.verify(headers=headers, nonces=signing.NonceBook(), **{**args, "body": b"[]"})


def test_the_nonce_book_refuses_a_nonce_within_its_window_and_forgets_it_after():
    book, window = signing.NonceBook(), 2 * signing.MAX_SKEW
    busy = [secrets.token_bytes(32) for _ in range(30_000)]  # a busy minute's requests
    assert all(book.claim(n, 1000.0 + i / 1000) for i, n in enumerate(busy))
    assert not book.claim(busy[0], 1000.0 + window - 1)  # still inside its window
    assert len(book) == 30_000
    assert book.claim(busy[0], 1000.0 + window + 0.5)  # its window passed: a new claim
    # every claim forgets what has expired, oldest first: the book holds the window, no more
    assert len(book) == 30_000 - 500
    assert book.claim(secrets.token_bytes(32), 1000.0 + 3 * window)
    assert len(book) == 1


def test_the_holder_checks_and_answers_with_no_call_to_the_chain(world, monkeypatch):
    consent = world.consent()
    calls: list[str] = []

    def away(method: str, params: Any) -> Any:
        calls.append(method)
        raise ConnectionError("the chain is away")

    provider = world.node.chain.client.w3.provider
    monkeypatch.setattr(provider, "make_request", away)
    monkeypatch.setattr(provider, "_request_func_cache", (None, None))  # web3 keeps the old one
    monkeypatch.setattr(world.node.index, "step", lambda: False)  # the follower waits too
    resp = world.ask(consent)
    assert resp.status_code == 200 and len(resp.json()["records"]) == 2, resp.text
    _refused(world.ask(consent, purpose="guarantee_review"), 403, "consent_other_purpose")
    assert calls == []
    with pytest.raises(ConnectionError):  # and a call to the chain would have been seen
        _ = world.node.chain.client.w3.eth.block_number
    assert calls == ["eth_blockNumber"]


def test_a_lenders_query_with_a_bad_identifier_names_the_field_and_asks_no_one(world):
    token = staff_token(world.client, "query_operator")
    bad = make_resident_id(7)[:-1] + ("0" if make_resident_id(7)[-1] != "0" else "1")
    resp = world.client.post("/v1/queries", headers=bearer(token), json={
        "subject": {"type": "person", "id_number": bad}, "consent_id": "0x" + "ab" * 32,
        "purpose": "loan_application"})  # fmt: skip
    assert (resp.status_code, resp.json()["field"]) == (422, "subject.id_number"), resp.text
    assert bad not in resp.text
    assert _log_size(world) == 0
    admin_only = world.client.post("/v1/queries", json={
        "subject": {"type": "person", "id_number": make_resident_id(7)},
        "consent_id": "0x" + "ab" * 32, "purpose": "loan_application"})  # fmt: skip
    assert admin_only.status_code == 403  # the query operator's alone


def test_the_query_log_writer_stops_when_idle_and_starts_again_with_the_next_entry(world):
    log = QueryLog(world.node.engine, idle=0.05)

    def entry(n: int) -> QueryEntry:
        asker = world.asker.address
        return QueryEntry(query_id=f"0x{n:064x}", side="holder", subject_key=world.subject,
                          consent_id="0x" + "ab" * 32, purpose="loan_application",
                          requester=asker, holder=asker, at=n)  # fmt: skip

    first = log.log_now(entry(1))
    wait_for(lambda: log._thread is None, what="the writer to stop")
    assert log.log_now(entry(2)) == first + 1
    assert _log_size(world) == 2


def test_metrics_count_queries_served_and_refused_by_reason(world):
    from prometheus_client.parser import text_string_to_metric_families

    def counts() -> dict[tuple[str, str], float]:
        text = world.client.get("/metrics").text
        return {
            (s.name, s.labels.get("reason", "")): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }

    before = counts()
    assert world.ask(world.consent()).status_code == 200
    _refused(world.ask("0x" + "ab" * 32), 403, "consent_not_found")
    _refused(world.ask(world.consent(), account=Account.create()), 403, "not_a_member")
    after = counts()
    for key in [
        ("creditchain_peer_queries_served_total", ""),
        ("creditchain_peer_queries_refused_total", "consent_not_found"),
        ("creditchain_peer_queries_refused_total", "not_a_member"),
    ]:
        assert after.get(key, 0) - before.get(key, 0) == 1, key
    assert world.subject not in world.client.get("/metrics").text
