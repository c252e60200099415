"""Consent checks, consents and bindings read from the node's event index: every refusal of
`check_consent` with its own code, no chain round trip, and the derived tables follow a reorg
and a rebuild exactly."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from node.cli import main as cli
from node.consents import errors
from node.consents.service import (
    bindings_of,
    check_consent,
    consents_of,
    get_consent,
    subject_of_address,
)
from node.crypto import eip712
from tests.conftest import node_of, rpc, wait_for
from tests.test_index import _anvil_node, _fresh_index, _rows

SUBJECT = "0x" + "ab" * 32
DAY = 24 * 3600


class Desk:
    """The node's own member as binder, relayer and grantee, on the node's chain."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.client = node.chain.client
        self.registry = self.client.contract(
            node.chain.addresses["ConsentRegistry"], node.chain.abis["ConsentRegistry"]
        )
        self.member = self.client.account.address

    def send(self, fn: Any) -> dict[str, Any]:
        receipt = self.client.wait_receipt(self.client.send(fn, gas=400_000), timeout=60)
        assert receipt is not None and receipt["status"] == 1
        assert self.node.index.catch_up(timeout=60)
        return receipt

    def bind(self, address: str, subject: str = SUBJECT) -> dict[str, Any]:
        return self.send(self.registry.functions.bind(subject, address))

    def consent(self, borrower: LocalAccount, **overrides: Any) -> str:
        now = int(time.time())
        message = {"subjectKey": SUBJECT, "grantee": self.member, "purpose": 0,
                   "validFrom": now - DAY, "validUntil": now + 30 * DAY, "nonce": 1}  # fmt: skip
        message.update(overrides)
        data = eip712.consent_typed_data(message, self.domain())
        sig = eip712.sign(data, borrower.key)
        as_tuple = (bytes.fromhex(message["subjectKey"][2:]), message["grantee"],
                    message["purpose"], message["validFrom"], message["validUntil"],
                    int(message["nonce"]))  # fmt: skip
        self.send(self.registry.functions.registerConsent(as_tuple, bytes.fromhex(sig[2:])))
        return "0x" + eip712.digest(data).hex()

    def revoke(self, borrower: LocalAccount, consent_id: str) -> dict[str, Any]:
        data = eip712.revocation_typed_data(consent_id, self.domain())
        sig = bytes.fromhex(eip712.sign(data, borrower.key)[2:])
        return self.send(self.registry.functions.revokeConsent(consent_id, sig))

    def domain(self) -> dict[str, Any]:
        return eip712.domain(self.node.chain.chain_id, self.registry.address)


@pytest.fixture
def desk(node_client: Any) -> Desk:
    return Desk(node_of(node_client))


def _check(desk: Desk, consent: str, **overrides: Any) -> Any:
    args = {"consent_id": consent, "subject_key": SUBJECT, "grantee": desk.member,
            "purpose": "loan_application", "at": int(time.time())}  # fmt: skip
    args.update(overrides)
    return check_consent(desk.node.index, **args)


def test_a_valid_consent_passes_the_check_and_reads_as_registered(desk: Desk) -> None:
    borrower = Account.create()
    desk.bind(borrower.address)
    consent_id = desk.consent(borrower, nonce=2**255 + 3, purpose=3)
    consent = _check(desk, consent_id, purpose="post_loan_management")
    assert (consent.consent_id, consent.subject_key, consent.grantee, consent.borrower) == (
        consent_id,
        SUBJECT,
        desk.member,
        borrower.address,
    )
    assert (consent.purpose, consent.nonce, consent.revoked_at) == (
        "post_loan_management",
        2**255 + 3,
        None,
    )
    assert _check(desk, consent_id.upper().replace("0X", "0x"), purpose=3) == consent
    assert consents_of(desk.node.engine, subject_key=SUBJECT) == [consent]


def test_each_refusal_has_its_own_code(desk: Desk) -> None:
    borrower = Account.create()
    desk.bind(borrower.address)
    now = int(time.time())
    consent_id = desk.consent(borrower, validFrom=now - DAY, validUntil=now + DAY)
    cases = [
        ({"consent_id": "0x" + "00" * 32}, errors.ConsentNotFound, "consent_not_found"),
        ({"subject_key": "0x" + "cd" * 32}, errors.ConsentOtherSubject, "consent_other_subject"),
        ({"grantee": Account.create().address}, errors.ConsentOtherMember, "consent_other_member"),
        ({"grantee": "not an address"}, errors.ConsentOtherMember, "consent_other_member"),
        ({"purpose": "guarantee_review"}, errors.ConsentOtherPurpose, "consent_other_purpose"),
        ({"at": now - DAY - 1}, errors.ConsentNotYetValid, "consent_not_yet_valid"),
        ({"at": now + DAY}, errors.ConsentExpired, "consent_expired"),
    ]
    for overrides, refusal, code in cases:
        with pytest.raises(refusal) as refused:
            _check(desk, consent_id, **overrides)
        assert (refused.value.code, refused.value.status) == (code, 403)
    assert _check(desk, consent_id, at=now - DAY).consent_id == consent_id  # the first second
    assert _check(desk, consent_id, at=now + DAY - 1).consent_id == consent_id  # the last


def test_a_revoked_consent_is_refused_from_the_revocation_block_on(desk: Desk) -> None:
    borrower = Account.create()
    desk.bind(borrower.address)
    consent_id = desk.consent(borrower)
    receipt = desk.revoke(borrower, consent_id)
    consent = get_consent(desk.node.index, consent_id=consent_id)
    assert consent is not None and consent.revoked_block == receipt["blockNumber"]
    assert consent.revoked_at is not None
    with pytest.raises(errors.ConsentRevoked) as refused:
        _check(desk, consent_id, at=consent.revoked_at)
    assert refused.value.code == "consent_revoked"
    assert _check(desk, consent_id, at=consent.revoked_at - 1).revoked_at == consent.revoked_at


def test_bindings_and_the_subject_of_an_address_follow_bind_and_unbind(desk: Desk) -> None:
    lost, new = Account.create(), Account.create()
    first = desk.bind(lost.address)
    assert subject_of_address(desk.node.index, address=lost.address.lower()) == SUBJECT
    gone = desk.send(desk.registry.functions.unbind(SUBJECT, lost.address))
    assert subject_of_address(desk.node.index, address=lost.address) is None
    desk.bind(new.address)
    assert subject_of_address(desk.node.engine, address=new.address) == SUBJECT
    old, current = bindings_of(desk.node.index, subject_key=SUBJECT)
    assert (old["address"], old["member"], old["block_number"]) == (
        lost.address,
        desk.member,
        first["blockNumber"],
    )
    assert old["tx_hash"] == first["transactionHash"].to_0x_hex()
    assert old["unbound"]["block_number"] == gone["blockNumber"]
    assert (current["address"], current["unbound"]) == (new.address, None)
    assert bindings_of(desk.node.index, subject_key="0x" + "cd" * 32) == []


def test_the_check_makes_no_chain_round_trip(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    borrower = Account.create()
    desk.bind(borrower.address)
    consent_id = desk.consent(borrower)
    w3 = desk.client.w3

    def no_rpc(*args: Any, **kw: Any) -> Any:
        raise AssertionError("the consent check asked the chain")

    monkeypatch.setattr(w3.provider, "make_request", no_rpc)
    desk.node.index.stop()  # nothing else may ask the chain meanwhile
    assert _check(desk, consent_id).consent_id == consent_id
    assert subject_of_address(desk.node.index, address=borrower.address) == SUBJECT


def test_a_reorg_and_a_rebuild_leave_the_derived_tables_as_the_chain_says(anvil, tmp_path):
    data = tmp_path / "data"
    with _anvil_node(anvil, data) as client:
        desk = Desk(node_of(client))
        borrower, phone, tablet = Account.create(), Account.create(), Account.create()
        desk.bind(borrower.address)
        desk.bind(phone.address)
        kept = desk.consent(borrower, nonce=1)
        dropped = desk.consent(borrower, nonce=2)
        desk.revoke(borrower, kept)
        desk.send(desk.registry.functions.unbind(SUBJECT, phone.address))
        desk.bind(tablet.address)
        assert get_consent(desk.node.index, consent_id=kept).revoked_at is not None
        assert subject_of_address(desk.node.index, address=phone.address) is None

        rpc(anvil, "anvil_reorg", [4, []])  # the second consent, the revocation, the unbinding
        dropped_gone = lambda: get_consent(desk.node.index, consent_id=dropped) is None  # noqa: E731
        wait_for(dropped_gone, 30, "the reorg indexed")  # and the new binding are gone
        assert get_consent(desk.node.index, consent_id=kept).revoked_at is None
        assert _check(desk, kept).consent_id == kept
        assert subject_of_address(desk.node.index, address=phone.address) == SUBJECT
        assert subject_of_address(desk.node.index, address=tablet.address) is None
        assert [b["unbound"] for b in bindings_of(desk.node.index, subject_key=SUBJECT)] == [
            None, None]  # fmt: skip

        fresh = _fresh_index(desk.node.chain, tmp_path / "fresh.db")
        assert consents_of(fresh, subject_key=SUBJECT) == consents_of(
            desk.node.index, subject_key=SUBJECT
        )
        assert bindings_of(fresh, subject_key=SUBJECT) == bindings_of(
            desk.node.index, subject_key=SUBJECT
        )
        assert _rows(data / "node.db") == fresh.rows()

        # rebuilt beside the running node, from a block before the binding: the same again
        first = desk.node.index.read("ConsentRegistry").events[0].block_number
        assert cli(["index", "rebuild", "--from", str(first), "--data", str(data), "--rpc",
                    anvil]) == 0  # fmt: skip
        assert desk.node.index.catch_up(timeout=60)
        assert consents_of(fresh, subject_key=SUBJECT) == consents_of(
            desk.node.engine, subject_key=SUBJECT
        )
        assert bindings_of(fresh, subject_key=SUBJECT) == bindings_of(
            desk.node.engine, subject_key=SUBJECT
        )
