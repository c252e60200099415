"""The ConsentRegistry contract on an in-memory eth-tester chain: bindings attested by members,
consents verified on chain (EIP-712, the node's own digest and signature), registered once,
refused for every reason in the interface, and revoked at once by the borrower's signature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from node.chain.deploy import CONSENT_MAX_WINDOW, contract_name
from node.consents.purposes import PURPOSES
from node.crypto import eip712
from tests.conftest import (
    ADMIT,
    SUSPEND,
    assert_reverts,
    found_on_tester,
    founder_list,
    in_memory_chain,
    pubkey,
)

SUBJECT = "0x" + Web3.keccak(text="subject pseudonym 1").hex().removeprefix("0x")
OTHER_SUBJECT = "0x" + Web3.keccak(text="subject pseudonym 2").hex().removeprefix("0x")
DAY = 24 * 3600


@dataclass
class Reg:
    """One founding admin (M = 1), two lenders, an outsider, the deployed ConsentRegistry,
    and a borrower's key (no gas: members relay)."""

    w3: Web3
    consortium: Contract
    registry: Contract
    admin: str
    lender: str
    other: str
    outsider: str
    borrower: LocalAccount

    def send(self, fn: Any, sender: str) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        assert receipt.status == 1
        return receipt

    def reverts(self, fn: Any, sender: str, signature: str, *args: Any) -> None:
        assert_reverts(lambda: fn.transact({"from": sender}), signature, *args)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest").timestamp)

    def domain(self) -> dict[str, Any]:
        return eip712.domain(self.w3.eth.chain_id, self.registry.address)

    def message(self, **overrides: Any) -> dict[str, Any]:
        now = self.now()
        message = {
            "subjectKey": SUBJECT, "grantee": self.lender, "purpose": 0,
            "validFrom": now, "validUntil": now + 30 * DAY, "nonce": 1,
        }  # fmt: skip
        message.update(overrides)
        return message

    def signed(self, message: dict[str, Any], key: LocalAccount | None = None) -> tuple:
        """(the consent as the contract takes it, the signature bytes, its digest)."""
        data = eip712.consent_typed_data(message, self.domain())
        sig = eip712.sign(data, (key or self.borrower).key)
        as_tuple = (
            bytes.fromhex(message["subjectKey"][2:]), message["grantee"], message["purpose"],
            message["validFrom"], message["validUntil"], int(message["nonce"]),
        )  # fmt: skip
        return as_tuple, bytes.fromhex(sig[2:]), eip712.digest(data)

    def register(self, message: dict[str, Any], key: LocalAccount | None = None) -> Any:
        consent, sig, digest = self.signed(message, key)
        return self.send(self.registry.functions.registerConsent(consent, sig), self.other)

    def revocation(self, consent_id: bytes, key: LocalAccount | None = None) -> bytes:
        data = eip712.revocation_typed_data("0x" + consent_id.hex(), self.domain())
        return bytes.fromhex(eip712.sign(data, (key or self.borrower).key)[2:])


@pytest.fixture
def reg(compiled: dict[str, dict]) -> Reg:
    w3 = in_memory_chain()
    admin, lender, other, outsider = w3.eth.accounts[:4]
    contracts = found_on_tester(w3, compiled, founder_list(admin), 1)
    r = Reg(w3, contracts["Consortium"], contracts["ConsentRegistry"], admin, lender, other,
            outsider, Account.create())  # fmt: skip
    for i, account in enumerate((lender, other)):
        fn = r.consortium.functions.propose(
            ADMIT, account, f"Lender {i}", f"http://127.0.0.1:{8790 + i}", pubkey(account)
        )
        r.send(fn, admin)
    r.send(r.registry.functions.bind(SUBJECT, r.borrower.address), lender)
    return r


def test_every_deploy_registers_the_registry_with_a_one_year_window(reg: Reg) -> None:
    cons = reg.consortium.functions
    assert cons.contractAddress(contract_name("ConsentRegistry")).call() == reg.registry.address
    assert reg.registry.functions.maxDuration().call() == CONSENT_MAX_WINDOW == 31_536_000
    assert reg.registry.functions.PURPOSE_COUNT().call() == len(PURPOSES)


def test_the_contract_and_the_node_compute_the_same_digests(reg: Reg) -> None:
    message = reg.message(nonce=2**200 + 7)
    consent, _, digest = reg.signed(message)
    assert reg.registry.functions.consentDigest(consent).call() == digest
    consent_id = b"\x01" * 32
    data = eip712.revocation_typed_data("0x" + consent_id.hex(), reg.domain())
    assert reg.registry.functions.revocationDigest(consent_id).call() == eip712.digest(data)


def test_bind_is_attested_by_an_active_member_and_one_address_has_one_subject(reg: Reg) -> None:
    fns = reg.registry.functions
    (event,) = reg.registry.events.Bound().get_logs(from_block=0)
    assert (event.args.subjectKey.hex(), event.args.borrower, event.args.member) == (
        SUBJECT[2:],
        reg.borrower.address,
        reg.lender,
    )
    assert fns.bindingOf(reg.borrower.address).call() == [bytes.fromhex(SUBJECT[2:]), reg.lender]
    reg.reverts(
        fns.bind(OTHER_SUBJECT, reg.borrower.address),
        reg.other,
        "AlreadyBound(address,bytes32)",
        reg.borrower.address,
        bytes.fromhex(SUBJECT[2:]),
    )
    second = Account.create().address  # a subject may have several addresses
    reg.send(fns.bind(SUBJECT, second), reg.other)
    assert fns.bindingOf(second).call()[1] == reg.other
    reg.reverts(fns.bind(SUBJECT, Account.create().address), reg.outsider,
                "NotActiveMember(address)", reg.outsider)  # fmt: skip
    reg.reverts(fns.bind(b"\0" * 32, second), reg.lender, "ZeroSubject()")


def test_only_the_member_that_bound_an_address_unbinds_it(reg: Reg) -> None:
    fns = reg.registry.functions
    address = reg.borrower.address
    reg.reverts(fns.unbind(SUBJECT, address), reg.other, "NotBinder(address,address)",
                reg.other, address)  # fmt: skip
    reg.reverts(fns.unbind(OTHER_SUBJECT, address), reg.lender, "NotBound(address,bytes32)",
                address, bytes.fromhex(OTHER_SUBJECT[2:]))  # fmt: skip
    receipt = reg.send(fns.unbind(SUBJECT, address), reg.lender)
    (event,) = reg.registry.events.Unbound().process_receipt(receipt)
    assert (event.args.borrower, event.args.member) == (address, reg.lender)
    # the lost key signs nothing more; the borrower binds a new one through another member
    reg.reverts(
        fns.registerConsent(*reg.signed(reg.message())[:2]),
        reg.other,
        "UnboundSigner(address,bytes32)",
        address,
        bytes.fromhex(SUBJECT[2:]),
    )
    new_key = Account.create()
    reg.send(fns.bind(SUBJECT, new_key.address), reg.other)
    reg.register(reg.message(), new_key)


def test_a_consent_signed_by_a_bound_address_is_registered_once(reg: Reg) -> None:
    message = reg.message(purpose=3, nonce=42)
    consent, sig, digest = reg.signed(message)
    receipt = reg.send(reg.registry.functions.registerConsent(consent, sig), reg.other)
    (event,) = reg.registry.events.ConsentRegistered().process_receipt(receipt)
    a = event.args
    assert (a.consentId, a.subjectKey.hex(), a.grantee, a.borrower, a.purpose, a.nonce) == (
        digest,
        SUBJECT[2:],
        reg.lender,
        reg.borrower.address,
        3,
        42,
    )
    assert (a.validFrom, a.validUntil) == (message["validFrom"], message["validUntil"])
    assert reg.registry.functions.isValid(digest, reg.lender, 3).call()
    assert not reg.registry.functions.isValid(digest, reg.other, 3).call()
    reg.reverts(reg.registry.functions.registerConsent(consent, sig), reg.lender,
                "ConsentExists(bytes32)", digest)  # fmt: skip


def test_a_consent_is_refused_when_expired_or_over_long(reg: Reg) -> None:
    fns = reg.registry.functions
    now = reg.now()
    past = reg.message(validFrom=now - 10 * DAY, validUntil=now - DAY)
    reg.reverts(fns.registerConsent(*reg.signed(past)[:2]), reg.other,
                "ConsentExpired(uint64,uint256)", now - DAY, now + 1)  # fmt: skip
    long = reg.message(validUntil=now + CONSENT_MAX_WINDOW + 1)
    reg.reverts(
        fns.registerConsent(*reg.signed(long)[:2]),
        reg.other,
        "WindowTooLong(uint256,uint64)",
        CONSENT_MAX_WINDOW + 1,
        CONSENT_MAX_WINDOW,
    )
    backwards = reg.message(validFrom=now + DAY, validUntil=now + DAY)
    reg.reverts(fns.registerConsent(*reg.signed(backwards)[:2]), reg.other,
                "InvalidWindow(uint64,uint64)", now + DAY, now + DAY)  # fmt: skip
    reg.register(reg.message(validUntil=now + CONSENT_MAX_WINDOW))  # exactly the maximum


def test_a_consent_for_an_inactive_grantee_or_an_unknown_purpose_is_refused(reg: Reg) -> None:
    fns = reg.registry.functions
    for grantee in (reg.outsider, reg.registry.address):
        outsider = reg.message(grantee=grantee)
        reg.reverts(fns.registerConsent(*reg.signed(outsider)[:2]), reg.other,
                    "GranteeNotActive(address)", grantee)  # fmt: skip
    reg.send(reg.consortium.functions.propose(SUSPEND, reg.lender, "", "", b""), reg.admin)
    suspended = reg.message()
    reg.reverts(fns.registerConsent(*reg.signed(suspended)[:2]), reg.other,
                "GranteeNotActive(address)", reg.lender)  # fmt: skip
    for purpose in (len(PURPOSES), 255):
        odd = reg.message(grantee=reg.other, purpose=purpose)
        reg.reverts(fns.registerConsent(*reg.signed(odd)[:2]), reg.other,
                    "UnknownPurpose(uint8)", purpose)  # fmt: skip
    last = reg.message(grantee=reg.other, purpose=len(PURPOSES) - 1)
    reg.register(last)


def test_an_unbound_signer_or_a_forged_signature_is_refused(reg: Reg) -> None:
    fns = reg.registry.functions
    stranger = Account.create()
    consent, sig, _ = reg.signed(reg.message(), stranger)
    reg.reverts(
        fns.registerConsent(consent, sig),
        reg.other,
        "UnboundSigner(address,bytes32)",
        stranger.address,
        bytes.fromhex(SUBJECT[2:]),
    )
    # the borrower's signature over one message, sent with another: it recovers to nobody's
    consent, sig, _ = reg.signed(reg.message())
    altered = (consent[0], reg.other, *consent[2:])
    reg.reverts(fns.registerConsent(altered, sig), reg.other, "UnboundSigner(address,bytes32)",
                _recovered(reg, altered, sig), bytes.fromhex(SUBJECT[2:]))  # fmt: skip
    reg.reverts(fns.registerConsent(consent, sig[:64]), reg.other, "InvalidSignature()")
    high_s = (
        sig[:32]
        + (_ORDER - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big")
        + bytes([55 - sig[64]])
    )  # the same signature's malleable twin
    reg.reverts(fns.registerConsent(consent, high_s), reg.other, "InvalidSignature()")
    reg.reverts(fns.registerConsent(consent, sig[:64] + b"\x05"), reg.other, "InvalidSignature()")
    reg.reverts(fns.registerConsent(consent, sig), reg.outsider, "NotActiveMember(address)",
                reg.outsider)  # fmt: skip


_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _recovered(reg: Reg, consent: tuple, sig: bytes) -> str:
    keys = ["subjectKey", "grantee", "purpose", "validFrom", "validUntil", "nonce"]
    message = dict(zip(keys, consent, strict=True))
    message["subjectKey"] = "0x" + message["subjectKey"].hex()
    return eip712.recover(eip712.consent_typed_data(message, reg.domain()), sig)


def test_the_borrower_revokes_a_consent_at_once_by_signature(reg: Reg) -> None:
    fns = reg.registry.functions
    consent, sig, consent_id = reg.signed(reg.message())
    reg.send(fns.registerConsent(consent, sig), reg.other)
    stranger = Account.create()
    reg.reverts(
        fns.revokeConsent(consent_id, reg.revocation(consent_id, stranger)),
        reg.other,
        "UnboundSigner(address,bytes32)",
        stranger.address,
        bytes.fromhex(SUBJECT[2:]),
    )
    reg.reverts(fns.revokeConsent(b"\x02" * 32, reg.revocation(b"\x02" * 32)), reg.other,
                "UnknownConsent(bytes32)", b"\x02" * 32)  # fmt: skip
    receipt = reg.send(fns.revokeConsent(consent_id, reg.revocation(consent_id)), reg.lender)
    (event,) = reg.registry.events.ConsentRevoked().process_receipt(receipt)
    assert (event.args.consentId, event.args.borrower) == (consent_id, reg.borrower.address)
    block_time = reg.w3.eth.get_block(receipt.blockNumber).timestamp
    assert fns.getConsent(consent_id).call()[5] == block_time
    assert not fns.isValid(consent_id, reg.lender, 0).call()
    reg.reverts(fns.revokeConsent(consent_id, reg.revocation(consent_id)), reg.other,
                "AlreadyRevoked(bytes32,uint64)", consent_id, block_time)  # fmt: skip


def test_any_address_bound_to_the_subject_revokes(reg: Reg) -> None:
    consent, sig, consent_id = reg.signed(reg.message())
    reg.send(reg.registry.functions.registerConsent(consent, sig), reg.other)
    phone = Account.create()
    reg.send(reg.registry.functions.bind(SUBJECT, phone.address), reg.other)
    reg.send(reg.registry.functions.revokeConsent(consent_id, reg.revocation(consent_id, phone)),
             reg.other)  # fmt: skip
    assert not reg.registry.functions.isValid(consent_id, reg.lender, 0).call()
