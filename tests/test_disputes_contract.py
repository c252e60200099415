"""The Disputes contract on an in-memory eth-tester chain: a borrower's signed objection (or a
member's on their behalf) disputes a record or a blacklist entry at once, with a deadline
from the block's time; the holder answers before it, only a regulator rules after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from node.chain.deploy import DISPUTE_ANSWER_DAYS, contract_name
from node.crypto import eip712
from tests.conftest import (
    ACTIVE,
    ADMIT,
    DISPUTED,
    EXPIRED,
    GRANT_REGULATOR,
    REVOKED,
    SUPERSEDED,
    SUSPEND,
    ZERO,
    assert_reverts,
    commitments,
    found_on_tester,
    founder_list,
    in_memory_chain,
    pubkey,
    ref_mth,
    ref_path,
)

RECORD, ENTRY = 0, 1  # Disputes.TargetKind
OPEN, UPHELD, REJECTED, UNRESOLVED = 1, 2, 3, 4  # Disputes.State
SUBJECT = Web3.keccak(text="subject pseudonym 1")
OTHER_SUBJECT = Web3.keccak(text="subject pseudonym 2")
REASONS = Web3.keccak(text="the overdue was repaid on time; bank slip attached")
ANSWER = Web3.keccak(text="checked against the ledger")
PERIOD = DISPUTE_ANSWER_DAYS * 24 * 3600


@dataclass
class D:
    """One founding admin (M = 1), two lenders and a regulator, the consortium's contracts,
    a batch of the lender's, and a borrower bound to SUBJECT by the lender."""

    w3: Web3
    c: dict[str, Contract]
    admin: str
    lender: str
    other: str
    regulator: str
    borrower: LocalAccount
    leaves: list[bytes]
    batch_id: int

    @property
    def disputes(self) -> Contract:
        return self.c["Disputes"]

    def send(self, fn: Any, sender: str) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        assert receipt.status == 1
        return receipt

    def reverts(self, fn: Any, sender: str, signature: str, *args: Any) -> None:
        assert_reverts(lambda: fn.transact({"from": sender}), signature, *args)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest").timestamp)

    def next_tx_at(self, timestamp: int) -> None:
        self.w3.provider.ethereum_tester.time_travel(timestamp)  # type: ignore[attr-defined]

    def anchor(self, i: int) -> tuple[int, int, list[bytes]]:
        return (self.batch_id, i, ref_path(i, self.leaves))

    def request(self, target: bytes, kind: int = RECORD, subject: bytes = SUBJECT,
                nonce: int = 1) -> tuple:  # fmt: skip
        return (subject, kind, target, REASONS, nonce)

    def signature(self, req: tuple, key: LocalAccount | None = None) -> bytes:
        message = dict(zip(("subjectKey", "kind", "target", "reasonsHash", "nonce"), req,
                           strict=True))  # fmt: skip
        dom = eip712.domain(self.w3.eth.chain_id, self.disputes.address)
        data = eip712.objection_typed_data(message, dom)
        assert eip712.digest(data) == self.disputes.functions.objectionDigest(req).call()
        return bytes.fromhex(eip712.sign(data, (key or self.borrower).key)[2:])

    def file_signed(self, i: int, sender: str | None = None) -> tuple[int, Any]:
        req = self.request(self.leaves[i])
        fn = self.disputes.functions.fileSigned(req, self.anchor(i), self.signature(req))
        receipt = self.send(fn, sender or self.other)
        (event,) = self.disputes.events.ObjectionFiled().process_receipt(receipt, DISCARD)
        return int(event.args.id), event

    def status(self, i: int) -> int:
        return int(self.c["RecordRegistry"].functions.statusOf(self.leaves[i]).call())

    def state(self, objection_id: int) -> int:
        return int(self.disputes.functions.getObjection(objection_id).call()[6])


@pytest.fixture
def d(compiled: dict[str, dict]) -> D:
    w3 = in_memory_chain()
    admin, lender, other, regulator = w3.eth.accounts[:4]
    c = found_on_tester(w3, compiled, founder_list(admin), 1)

    def vote(action: int, subject: str, name: str = "") -> None:
        key = pubkey(subject) if action == ADMIT else b""
        fn = c["Consortium"].functions.propose(action, subject, name, "", key)
        w3.eth.wait_for_transaction_receipt(fn.transact({"from": admin}))

    for i, account in enumerate((lender, other, regulator)):
        vote(ADMIT, account, f"Lender {i}")
    vote(GRANT_REGULATOR, regulator)
    borrower = Account.create()
    bind = c["ConsentRegistry"].functions.bind(SUBJECT, borrower.address)
    w3.eth.wait_for_transaction_receipt(bind.transact({"from": lender}))
    leaves = commitments(4, b"d")
    anchor = c["RecordRegistry"].functions.anchorBatch(ref_mth(leaves), len(leaves), ZERO)
    receipt = w3.eth.wait_for_transaction_receipt(anchor.transact({"from": lender}))
    (event,) = c["RecordRegistry"].events.BatchAnchored().process_receipt(receipt, DISCARD)
    return D(w3, c, admin, lender, other, regulator, borrower, leaves, int(event.args.batchId))


def test_every_deploy_registers_disputes_with_a_twenty_day_period(d: D) -> None:
    name = contract_name("Disputes")
    assert d.c["Consortium"].functions.contractAddress(name).call() == d.disputes.address
    assert d.disputes.functions.answerPeriod().call() == PERIOD == 20 * 24 * 3600


def test_a_signed_objection_disputes_the_record_at_once_with_a_deadline_from_the_block(
    d: D,
) -> None:
    objection_id, event = d.file_signed(2)
    assert d.status(2) == DISPUTED and d.status(1) == ACTIVE
    block = d.w3.eth.get_block(event.blockNumber)
    assert event.args.filedAt == block.timestamp
    assert event.args.deadline == block.timestamp + PERIOD
    assert (event.args.subjectKey, event.args.holder, event.args.kind) == (
        SUBJECT, d.lender, RECORD)  # fmt: skip
    assert (event.args.borrower, event.args.filedBy) == (d.borrower.address, d.other)
    assert event.args.reasonsHash == REASONS
    assert (event.args.batchId, event.args.leafIndex) == (d.batch_id, 2)
    assert d.state(objection_id) == OPEN
    target = (RECORD, d.leaves[2])
    assert d.disputes.functions.openObjectionOn(*target).call() == objection_id


def test_an_objection_signed_by_an_unbound_key_or_replayed_is_refused(d: D) -> None:
    req = d.request(d.leaves[0])
    stranger = Account.create()
    fn = d.disputes.functions.fileSigned(req, d.anchor(0), d.signature(req, stranger))
    d.reverts(fn, d.other, "UnboundSigner(address,bytes32)", stranger.address, SUBJECT)
    other_subject = d.request(d.leaves[0], subject=OTHER_SUBJECT)
    fn = d.disputes.functions.fileSigned(other_subject, d.anchor(0), d.signature(other_subject))
    d.reverts(fn, d.other, "UnboundSigner(address,bytes32)", d.borrower.address, OTHER_SUBJECT)
    assert d.status(0) == ACTIVE

    objection_id, _ = d.file_signed(0)
    fn = d.disputes.functions.fileSigned(req, d.anchor(0), d.signature(req))
    digest = d.disputes.functions.objectionDigest(req).call()
    d.reverts(fn, d.other, "SignatureUsed(bytes32)", digest)
    fn = d.disputes.functions.fileFor(d.request(d.leaves[0], nonce=2), d.anchor(0))
    d.reverts(fn, d.lender, "AlreadyObjected(uint256)", objection_id)


def test_an_objection_needs_a_valid_proof_and_an_active_relayer(d: D) -> None:
    req = d.request(d.leaves[1])
    wrong = (d.batch_id, 1, ref_path(0, d.leaves))
    fn = d.disputes.functions.fileFor(req, wrong)
    d.reverts(fn, d.other, "InvalidProof(bytes32,uint256)", d.leaves[1], d.batch_id)
    outsider = d.w3.eth.accounts[5]
    fn = d.disputes.functions.fileFor(req, d.anchor(1))
    d.reverts(fn, outsider, "NotActiveMember(address)", outsider)
    assert d.status(1) == ACTIVE and d.disputes.functions.objectionCount().call() == 0


def test_the_holder_rejects_in_time_and_the_record_is_active_again(d: D) -> None:
    objection_id, event = d.file_signed(1)
    fn = d.disputes.functions.answer(objection_id, REJECTED, ANSWER, ref_path(1, d.leaves))
    d.reverts(fn, d.other, "NotHolder(address,uint256)", d.other, objection_id)
    d.next_tx_at(event.args.deadline - 1)
    receipt = d.send(fn, d.lender)
    (answered,) = d.disputes.events.ObjectionAnswered().process_receipt(receipt, DISCARD)
    assert (answered.args.state, answered.args.reasonHash) == (REJECTED, ANSWER)
    assert answered.args.answeredAt < answered.args.deadline == event.args.deadline
    assert d.status(1) == ACTIVE and d.state(objection_id) == REJECTED
    d.reverts(fn, d.lender, "NotOpen(uint256,uint8)", objection_id, REJECTED)


def test_upholding_needs_the_record_corrected_first(d: D) -> None:
    objection_id, _ = d.file_signed(3)
    proof = ref_path(3, d.leaves)
    fn = d.disputes.functions.answer(objection_id, UPHELD, ANSWER, proof)
    d.reverts(fn, d.lender, "NotCorrected(uint256)", objection_id)
    corrected = Web3.keccak(text="the corrected version")
    registry = d.c["RecordRegistry"].functions
    d.send(registry.supersede(d.leaves[3], d.batch_id, 3, proof, corrected), d.lender)
    d.send(fn, d.lender)
    assert d.status(3) == SUPERSEDED and d.state(objection_id) == UPHELD


def test_unresolved_returns_the_record_with_the_borrowers_statement(d: D) -> None:
    objection_id, _ = d.file_signed(0)
    fn = d.disputes.functions.answer(objection_id, UNRESOLVED, ANSWER, ref_path(0, d.leaves))
    receipt = d.send(fn, d.lender)
    (statement,) = d.disputes.events.StatementAttached().process_receipt(receipt, DISCARD)
    assert (statement.args.target, statement.args.statementHash) == (d.leaves[0], REASONS)
    assert d.status(0) == ACTIVE and d.state(objection_id) == UNRESOLVED


def test_after_the_deadline_the_holder_is_refused_and_the_regulator_rules(d: D) -> None:
    objection_id, event = d.file_signed(2)
    proof = ref_path(2, d.leaves)
    ruling = d.disputes.functions.rule(objection_id, UPHELD, ANSWER, proof)
    d.reverts(ruling, d.regulator, "DeadlineNotReached(uint256,uint64)", objection_id,
              event.args.deadline)  # fmt: skip
    d.next_tx_at(event.args.deadline)
    late = d.disputes.functions.answer(objection_id, REJECTED, ANSWER, proof)
    d.reverts(late, d.lender, "DeadlinePassed(uint256,uint64)", objection_id, event.args.deadline)
    d.reverts(ruling, d.other, "NotRegulator(address)", d.other)
    receipt = d.send(ruling, d.regulator)
    (ruled,) = d.disputes.events.ObjectionRuled().process_receipt(receipt, DISCARD)
    assert (ruled.args.regulator, ruled.args.holder, ruled.args.state) == (
        d.regulator, d.lender, UPHELD)  # fmt: skip
    assert ruled.args.ruledAt >= ruled.args.deadline
    assert d.status(2) == REVOKED and d.state(objection_id) == UPHELD
    assert d.disputes.functions.getObjection(objection_id).call()[7] is True  # byRegulator


def test_a_suspended_holder_cannot_answer(d: D) -> None:
    objection_id, _ = d.file_signed(1)
    fn = d.c["Consortium"].functions.propose(SUSPEND, d.lender, "", "", b"")
    d.send(fn, d.admin)
    answer = d.disputes.functions.answer(objection_id, REJECTED, ANSWER, ref_path(1, d.leaves))
    d.reverts(answer, d.lender, "NotActiveMember(address)", d.lender)
    assert d.status(1) == DISPUTED


def _listing(d: D, subject: bytes = SUBJECT) -> int:
    bl = d.c["Blacklist"].functions
    d.send(bl.registerNotice(subject, 0, REASONS, d.now()), d.lender)
    notice_id = bl.noticeCount().call()
    d.send(bl.list(subject, 1, REASONS, d.now() + 365 * 24 * 3600, notice_id), d.lender)
    return int(bl.entryCount().call())


def test_an_objection_to_a_blacklist_entry_flags_it_and_upholding_needs_it_delisted(
    d: D,
) -> None:
    entry = _listing(d)
    target = entry.to_bytes(32, "big")
    wrong_subject = d.request(target, ENTRY, OTHER_SUBJECT)
    fn = d.disputes.functions.fileFor(wrong_subject, (0, 0, []))
    d.reverts(fn, d.other, "SubjectMismatch(uint256,bytes32)", entry, OTHER_SUBJECT)
    req = d.request(target, ENTRY)
    receipt = d.send(d.disputes.functions.fileSigned(req, (0, 0, []), d.signature(req)), d.other)
    (event,) = d.disputes.events.ObjectionFiled().process_receipt(receipt, DISCARD)
    assert event.args.holder == d.lender and event.args.kind == ENTRY
    bl = d.c["Blacklist"].functions
    assert bl.getEntry(entry).call()[8] is True  # disputed

    upheld = d.disputes.functions.answer(event.args.id, UPHELD, ANSWER, [])
    d.reverts(upheld, d.lender, "NotCorrected(uint256)", event.args.id)
    d.send(bl.delist(entry, 3), d.lender)  # DelistingReason.DisputeUpheld
    d.send(upheld, d.lender)
    assert bl.getEntry(entry).call()[8] is False and d.state(event.args.id) == UPHELD


def _expire_leaf(d: D, i: int) -> None:
    """The lender marks leaf `i` of its batch expired in the batch's bitmap."""
    d.send(d.c["RecordRegistry"].functions.expireLeaves(d.batch_id, [0], [1 << i]), d.lender)


def test_an_objection_against_an_expired_record_is_refused(d: D) -> None:
    _expire_leaf(d, 2)
    req = d.request(d.leaves[2])
    fn = d.disputes.functions.fileSigned(req, d.anchor(2), d.signature(req))
    d.reverts(fn, d.other, "InvalidStatusChange(bytes32,uint8,uint8)", d.leaves[2], EXPIRED,
              DISPUTED)  # fmt: skip
    assert d.disputes.functions.objectionCount().call() == 0


def test_a_record_expired_while_disputed_closes_its_objection_without_reviving_it(d: D) -> None:
    objection_id, _ = d.file_signed(1)
    _expire_leaf(d, 1)
    proof = ref_path(1, d.leaves)
    registry = d.c["RecordRegistry"].functions
    assert registry.statusAt(d.leaves[1], d.batch_id, 1, proof).call() == EXPIRED
    d.send(d.disputes.functions.answer(objection_id, REJECTED, ANSWER, proof), d.lender)
    assert registry.statusAt(d.leaves[1], d.batch_id, 1, proof).call() == EXPIRED
    assert d.state(objection_id) == REJECTED
    second, _ = d.file_signed(0)
    _expire_leaf(d, 0)
    upheld = d.disputes.functions.answer(second, UPHELD, ANSWER, ref_path(0, d.leaves))
    d.send(upheld, d.lender)  # expired: no longer in use, as a corrected record
    assert d.state(second) == UPHELD
