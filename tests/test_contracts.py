"""The Consortium and RecordRegistry contracts, on an in-memory eth-tester chain and on anvil."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from typing import Any

import pytest
import solcx
from coincurve import PublicKey
from eth_account import Account
from eth_utils import keccak
from packaging.version import Version
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from node.anchoring.batcher import MAX_LEAVES, STATUS_MARKS, status_batch_gas
from node.anchoring.marks import EXPIRY_WORDS, expiry_gas
from node.chain import compile as compile_mod
from node.chain.compile import CompilerNotFound, compile_contracts
from node.chain.deploy import contract_name
from node.crypto.merkle import inclusion_proof, root_from_levels, tree_levels
from tests.conftest import (
    ACTIVE,
    ADMIN,
    ANVIL_KEY,
    DISPUTED,
    EXPIRED,
    M_ACTIVE,
    M_SUSPENDED,
    REINSTATE,
    REVOKED,
    SUPERSEDED,
    SUSPEND,
    ZERO,
    Chain,
    admit,
    anchor,
    assert_reverts,
    commitments,
    deploy,
    propose,
    pubkey,
    ref_mth,
    ref_path,
)


def test_scripts_solc_is_accepted_by_py_solc_x() -> None:
    version = solcx.wrapper.get_solc_version(compile_mod.SOLC_BINARY, with_commit_hash=True)
    assert version == Version("0.8.28+commit.7893614a")


def test_second_compile_is_a_cache_hit_that_does_not_start_node(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = compile_contracts(tmp_path)
    assert set(first) >= {"Consortium", "RecordRegistry"}
    assert first["RecordRegistry"]["bytecode"].startswith("0x6")
    assert len(list(tmp_path.glob("*.json"))) == 1

    def no_processes(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a cache hit must not start a process")

    monkeypatch.setattr(subprocess, "Popen", no_processes)
    assert compile_contracts(tmp_path) == first


def test_changed_source_is_a_cache_miss(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = tmp_path / "contracts"
    shutil.copytree(compile_mod.CONTRACTS_DIR, sources)
    calls: list[dict[str, str]] = []

    def fake_compile(srcs: dict[str, str], sources_dir: pathlib.Path) -> dict[str, dict]:
        calls.append(srcs)
        return {"Fake": {"abi": [], "bytecode": f"0x{len(calls):02x}"}}

    monkeypatch.setattr(compile_mod, "CONTRACTS_DIR", sources)
    monkeypatch.setattr(compile_mod, "_compile", fake_compile)
    cache = tmp_path / "cache"
    assert compile_contracts(cache)["Fake"]["bytecode"] == "0x01"
    assert compile_contracts(cache)["Fake"]["bytecode"] == "0x01"
    registry = sources / "RecordRegistry.sol"
    registry.write_text(registry.read_text() + "\n// changed\n")
    assert compile_contracts(cache)["Fake"]["bytecode"] == "0x02"
    assert len(calls) == 2


def test_missing_node_is_a_clear_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compile_mod.shutil, "which", lambda name: None)
    with pytest.raises(CompilerNotFound, match="scripts/run or scripts/test"):
        compile_contracts(tmp_path)


# --- Consortium -------------------------------------------------------------------------------


def test_deployer_is_founding_admin_and_active_member(chain: Chain) -> None:
    cons = chain.consortium.functions
    assert cons.isAdmin(chain.admin).call()
    assert cons.isActiveMember(chain.admin).call()
    status, roles, name, url, key, _joined = cons.getMember(chain.admin).call()
    assert (status, roles, name, url, key) == (
        M_ACTIVE,
        1 << ADMIN,
        "Founding Lender",
        "",
        pubkey(chain.admin),
    )
    assert not cons.isAdmin(chain.member).call()
    assert cons.memberStatus(chain.outsider).call() == 0
    assert cons.memberCount().call() == 3
    assert (cons.threshold().call(), cons.adminCount().call()) == (1, 1)


def test_one_of_one_consortium_admits_on_proposal_with_events(chain: Chain) -> None:
    _, receipt = admit(chain, chain.admin, chain.outsider, "New")
    (added,) = chain.consortium.events.MemberAdded().process_receipt(receipt, DISCARD)
    assert added.args.member == chain.outsider and added.args.name == "New"
    assert added.args.publicKey == pubkey(chain.outsider)
    assert chain.consortium.events.ProposalExecuted().process_receipt(receipt, DISCARD)
    assert chain.consortium.functions.isActiveMember(chain.outsider).call()


def test_one_of_one_consortium_suspends_and_reinstates_at_once(chain: Chain) -> None:
    cons = chain.consortium
    _, receipt = propose(chain, chain.admin, SUSPEND, chain.member)
    (event,) = cons.events.MemberStatusChanged().process_receipt(receipt, DISCARD)
    assert (event.args.previous, event.args.status) == (M_ACTIVE, M_SUSPENDED)
    assert not cons.functions.isActiveMember(chain.member).call()
    propose(chain, chain.admin, REINSTATE, chain.member)
    assert cons.functions.isActiveMember(chain.member).call()


def test_old_direct_admin_functions_are_gone(chain: Chain) -> None:
    names = {item.get("name") for item in chain.consortium.abi}
    assert not names & {"addMember", "setMemberStatus", "setAdmin"}


def test_last_admin_cannot_suspend_itself(chain: Chain) -> None:
    fn = chain.consortium.functions.propose(SUSPEND, chain.admin, "", "", b"")
    assert_reverts(
        lambda: fn.transact({"from": chain.admin}), "InvalidThreshold(uint256,uint256)", 1, 0
    )


# --- anchoring --------------------------------------------------------------------------------


def test_active_member_anchors_batch(chain: Chain) -> None:
    leaves = commitments(5)
    batch_id, receipt = anchor(chain, chain.member, leaves)
    assert batch_id == 1
    (event,) = chain.registry.events.BatchAnchored().process_receipt(receipt)
    assert event.args.member == chain.member
    assert event.args.root == ref_mth(leaves)
    assert (event.args.size, event.args.prevRoot) == (5, ZERO)
    reg = chain.registry.functions
    assert reg.batchCount().call() == 1
    assert reg.batchOfRoot(ref_mth(leaves)).call() == 1
    assert reg.lastRoot(chain.member).call() == ref_mth(leaves)


def test_get_batch_returns_what_was_anchored(chain: Chain) -> None:
    first, second = commitments(3, b"a"), commitments(7, b"b")
    id1, _ = anchor(chain, chain.member, first)
    id_other, _ = anchor(chain, chain.other, commitments(2, b"o"))
    id2, receipt = anchor(chain, chain.member, second, prev=ref_mth(first))
    assert (id1, id_other, id2) == (1, 2, 3)
    block = chain.w3.eth.get_block(receipt.blockNumber)
    assert chain.registry.functions.getBatch(id2).call() == [
        chain.member,
        ref_mth(second),
        7,
        ref_mth(first),
        block.timestamp,
    ]
    assert chain.registry.functions.getBatchLink(id2).call() == [id1, receipt.blockNumber]
    assert chain.registry.functions.lastBatchOf(chain.member).call() == id2


def test_get_batch_of_unknown_id_reverts(chain: Chain) -> None:
    reg = chain.registry.functions
    assert_reverts(lambda: reg.getBatch(0).call(), "UnknownBatch(uint256)", 0)
    assert_reverts(lambda: reg.getBatch(42).call(), "UnknownBatch(uint256)", 42)


def test_batch_events_are_found_by_member(chain: Chain) -> None:
    anchor(chain, chain.member, commitments(2, b"m"))
    anchor(chain, chain.other, commitments(2, b"o"))
    logs = chain.registry.events.BatchAnchored.get_logs(
        from_block=0, argument_filters={"member": chain.other}
    )
    assert [log.args.batchId for log in logs] == [2]


def test_non_member_cannot_anchor(chain: Chain) -> None:
    fn = chain.registry.functions.anchorBatch(b"\x01" * 32, 1, ZERO)
    assert_reverts(
        lambda: fn.transact({"from": chain.outsider}), "NotActiveMember(address)", chain.outsider
    )


def test_suspended_member_cannot_anchor(chain: Chain) -> None:
    propose(chain, chain.admin, SUSPEND, chain.member)
    fn = chain.registry.functions.anchorBatch(b"\x01" * 32, 1, ZERO)
    assert_reverts(
        lambda: fn.transact({"from": chain.member}), "NotActiveMember(address)", chain.member
    )


def test_reinstated_member_can_anchor_again(chain: Chain) -> None:
    propose(chain, chain.admin, SUSPEND, chain.member)
    propose(chain, chain.admin, REINSTATE, chain.member)
    assert anchor(chain, chain.member, commitments(1))[0] == 1


def test_empty_batch_and_zero_root_revert(chain: Chain) -> None:
    reg = chain.registry.functions
    empty = reg.anchorBatch(b"\x01" * 32, 0, ZERO)
    assert_reverts(lambda: empty.transact({"from": chain.member}), "EmptyBatch()")
    zero = reg.anchorBatch(ZERO, 1, ZERO)
    assert_reverts(lambda: zero.transact({"from": chain.member}), "ZeroRoot()")


def test_prev_root_mismatch_reverts(chain: Chain) -> None:
    reg = chain.registry.functions
    bogus = b"\x09" * 32
    first_with_prev = reg.anchorBatch(b"\x01" * 32, 1, bogus)
    assert_reverts(
        lambda: first_with_prev.transact({"from": chain.member}),
        "PrevRootMismatch(bytes32,bytes32)",
        ZERO,
        bogus,
    )
    leaves = commitments(2)
    anchor(chain, chain.member, leaves)
    skipping = reg.anchorBatch(b"\x02" * 32, 1, ZERO)
    assert_reverts(
        lambda: skipping.transact({"from": chain.member}),
        "PrevRootMismatch(bytes32,bytes32)",
        ref_mth(leaves),
        ZERO,
    )


def test_duplicate_root_reverts_with_its_batch_id(chain: Chain) -> None:
    leaves = commitments(4)
    anchor(chain, chain.member, leaves)
    resent = chain.registry.functions.anchorBatch(ref_mth(leaves), 4, ZERO)
    assert_reverts(
        lambda: resent.transact({"from": chain.member}),
        "RootAlreadyAnchored(bytes32,uint256)",
        ref_mth(leaves),
        1,
    )
    assert_reverts(
        lambda: resent.transact({"from": chain.other}),
        "RootAlreadyAnchored(bytes32,uint256)",
        ref_mth(leaves),
        1,
    )


def test_anchor_gas_stays_low(chain: Chain) -> None:
    leaves = commitments(3)
    _, first = anchor(chain, chain.member, leaves)
    _, second = anchor(chain, chain.member, commitments(3, b"x"), prev=ref_mth(leaves))
    assert first.gasUsed < 170_000
    assert second.gasUsed < 140_000


# --- record status ----------------------------------------------------------------------------


def test_supersede_with_valid_proof_marks_superseded(chain: Chain) -> None:
    leaves = commitments(6)
    batch_id, _ = anchor(chain, chain.member, leaves)
    reg = chain.registry
    assert reg.functions.statusOf(leaves[4]).call() == ACTIVE
    replacement = b"\x77" * 32
    fn = reg.functions.supersede(leaves[4], batch_id, 4, ref_path(4, leaves), replacement)
    receipt = chain.send(fn, chain.member)
    assert reg.functions.statusOf(leaves[4]).call() == SUPERSEDED
    assert reg.functions.statusOf(leaves[3]).call() == ACTIVE
    (event,) = reg.events.RecordStatusChanged().process_receipt(receipt)
    assert event.args.commitment == leaves[4]
    assert event.args.member == chain.member
    assert (event.args.status, event.args.replacement) == (SUPERSEDED, replacement)
    assert receipt.gasUsed < 70_000


def test_supersede_with_invalid_proof_reverts(chain: Chain) -> None:
    leaves = commitments(6)
    batch_id, _ = anchor(chain, chain.member, leaves)
    reg = chain.registry.functions
    proof = ref_path(4, leaves)
    tampered = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
    for index, path in ((4, tampered), (5, proof), (4, proof[:-1]), (4, [*proof, proof[0]])):
        fn = reg.supersede(leaves[4], batch_id, index, path, ZERO)
        assert_reverts(
            lambda fn=fn: fn.transact({"from": chain.member}),
            "InvalidProof(bytes32,uint256)",
            leaves[4],
            batch_id,
        )
    assert reg.statusOf(leaves[4]).call() == ACTIVE


def test_member_cannot_supersede_in_another_members_batch(chain: Chain) -> None:
    leaves = commitments(3)
    batch_id, _ = anchor(chain, chain.member, leaves)
    fn = chain.registry.functions.supersede(leaves[0], batch_id, 0, ref_path(0, leaves), ZERO)
    assert_reverts(
        lambda: fn.transact({"from": chain.other}),
        "NotBatchOwner(address,uint256)",
        chain.other,
        batch_id,
    )


def test_superseded_record_cannot_be_superseded_again(chain: Chain) -> None:
    leaves = commitments(3)
    batch_id, _ = anchor(chain, chain.member, leaves)
    fn = chain.registry.functions.supersede(leaves[1], batch_id, 1, ref_path(1, leaves), ZERO)
    chain.send(fn, chain.member)
    assert_reverts(
        lambda: fn.transact({"from": chain.member}),
        "StatusNotActive(bytes32,uint8)",
        leaves[1],
        SUPERSEDED,
    )


def test_supersede_in_unknown_batch_reverts(chain: Chain) -> None:
    fn = chain.registry.functions.supersede(b"\x01" * 32, 7, 0, [], ZERO)
    assert_reverts(lambda: fn.transact({"from": chain.member}), "UnknownBatch(uint256)", 7)


def test_on_chain_inclusion_check_agrees_with_rfc_9162_for_all_small_trees(chain: Chain) -> None:
    verify = chain.registry.functions.verifyInclusion
    leaves = commitments(20)
    for n in range(1, 21):
        tree = leaves[:n]
        root = ref_mth(tree)
        for m in range(n):
            proof = ref_path(m, tree)
            assert verify(tree[m], m, n, proof, root).call() is True, (n, m)
        last = ref_path(n - 1, tree)
        assert verify(tree[-1], (n - 1) // 2, n, last, root).call() is (n == 1)
        assert verify(tree[0], n, n, ref_path(0, tree), root).call() is False
        assert verify(tree[0], 0, n, ref_path(0, tree), ref_mth(leaves[1:])).call() is False


def test_inclusion_check_rejects_overlong_proof(chain: Chain) -> None:
    verify = chain.registry.functions.verifyInclusion
    assert verify(b"\x01" * 32, 0, 1, [ZERO] * 65, ZERO).call() is False


# --- statuses set by consortium contracts and by the anchoring member ------------------------

DISPUTES = contract_name("Disputes")
NOBODY = "0x" + "00" * 20


def _relay(chain: Chain, relay_artefact: dict, *, registered: bool) -> Contract:
    """A StatusRelay, registered as the consortium's contract "Disputes" if `registered`."""
    relay = deploy(chain.w3, relay_artefact, sender=chain.admin)
    if registered:  # M = 1: the admin's proposal is carried out at once
        chain.send(chain.consortium.functions.proposeContract(DISPUTES, relay.address), chain.admin)
    return relay


class _Batch:
    """A batch of the member's, and calls that set the status of one of its leaves."""

    def __init__(self, chain: Chain, n: int = 4, tag: bytes = b"s") -> None:
        self.chain = chain
        self.leaves = commitments(n, tag)
        self.id, _ = anchor(chain, chain.member, self.leaves)

    def direct(self, i: int, status: int, proof: list[bytes] | None = None) -> Any:
        path = ref_path(i, self.leaves) if proof is None else proof
        return self.chain.registry.functions.setStatus(self.leaves[i], self.id, i, path, status)

    def via(self, relay: Contract, i: int, status: int) -> Any:
        path = ref_path(i, self.leaves)
        registry = self.chain.registry.address
        return relay.functions.setStatus(registry, self.leaves[i], self.id, i, path, status)

    def status(self, i: int) -> int:
        return self.chain.registry.functions.statusOf(self.leaves[i]).call()


def test_registered_contract_disputes_a_commitment_and_clears_it(
    chain: Chain, relay_artefact: dict
) -> None:
    relay = _relay(chain, relay_artefact, registered=True)
    batch = _Batch(chain)
    receipt = chain.send(batch.via(relay, 2, DISPUTED), chain.outsider)
    assert batch.status(2) == DISPUTED and batch.status(1) == ACTIVE
    (event,) = chain.registry.events.RecordStatusChanged().process_receipt(receipt, DISCARD)
    assert (event.args.commitment, event.args.member, event.args.by) == (
        batch.leaves[2],
        chain.member,
        relay.address,
    )
    assert (event.args.previous, event.args.status, event.args.replacement) == (
        ACTIVE,
        DISPUTED,
        ZERO,
    )
    chain.send(batch.via(relay, 2, ACTIVE), chain.outsider)  # the objection was rejected
    assert batch.status(2) == ACTIVE
    chain.send(batch.via(relay, 2, DISPUTED), chain.outsider)
    chain.send(batch.via(relay, 2, REVOKED), chain.outsider)  # the objection was upheld
    assert batch.status(2) == REVOKED
    assert_reverts(
        lambda: batch.via(relay, 2, DISPUTED).transact({"from": chain.outsider}),
        "InvalidStatusChange(bytes32,uint8,uint8)",
        batch.leaves[2],
        REVOKED,
        DISPUTED,
    )


def test_unregistered_contract_or_address_cannot_set_a_status(
    chain: Chain, relay_artefact: dict
) -> None:
    relay = _relay(chain, relay_artefact, registered=False)
    batch = _Batch(chain)
    assert_reverts(
        lambda: batch.via(relay, 0, DISPUTED).transact({"from": chain.admin}),
        "NotActiveMember(address)",
        relay.address,
    )
    assert_reverts(
        lambda: batch.direct(0, DISPUTED).transact({"from": chain.outsider}),
        "NotActiveMember(address)",
        chain.outsider,
    )
    assert batch.status(0) == ACTIVE


def test_contract_unregistered_by_vote_can_no_longer_set_a_status(
    chain: Chain, relay_artefact: dict
) -> None:
    relay = _relay(chain, relay_artefact, registered=True)
    batch = _Batch(chain)
    chain.send(batch.via(relay, 0, DISPUTED), chain.outsider)
    chain.send(chain.consortium.functions.proposeContract(DISPUTES, NOBODY), chain.admin)
    assert_reverts(
        lambda: batch.via(relay, 1, DISPUTED).transact({"from": chain.outsider}),
        "NotActiveMember(address)",
        relay.address,
    )


def test_anchoring_member_revokes_and_expires_its_own_commitments(chain: Chain) -> None:
    batch = _Batch(chain)
    receipt = chain.send(batch.direct(0, REVOKED), chain.member)
    chain.send(batch.direct(3, EXPIRED), chain.member)
    assert [batch.status(i) for i in range(4)] == [REVOKED, ACTIVE, ACTIVE, EXPIRED]
    (event,) = chain.registry.events.RecordStatusChanged().process_receipt(receipt, DISCARD)
    assert (event.args.member, event.args.by, event.args.status) == (
        chain.member,
        chain.member,
        REVOKED,
    )


def test_member_cannot_dispute_its_own_nor_touch_anothers_commitment(chain: Chain) -> None:
    batch = _Batch(chain)
    for status in (DISPUTED, ACTIVE, SUPERSEDED):
        assert_reverts(
            lambda status=status: batch.direct(0, status).transact({"from": chain.member}),
            "StatusNotAllowed(address,uint8)",
            chain.member,
            status,
        )
    assert_reverts(
        lambda: batch.direct(0, REVOKED).transact({"from": chain.other}),
        "NotBatchOwner(address,uint256)",
        chain.other,
        batch.id,
    )
    assert batch.status(0) == ACTIVE


def test_suspended_member_cannot_revoke_its_own_commitment(chain: Chain) -> None:
    batch = _Batch(chain)
    propose(chain, chain.admin, SUSPEND, chain.member)
    assert_reverts(
        lambda: batch.direct(0, REVOKED).transact({"from": chain.member}),
        "NotActiveMember(address)",
        chain.member,
    )
    assert batch.status(0) == ACTIVE


def test_status_change_needs_a_valid_proof_and_a_step_the_table_has(
    chain: Chain, relay_artefact: dict
) -> None:
    relay = _relay(chain, relay_artefact, registered=True)
    batch = _Batch(chain)
    wrong = ref_path(1, batch.leaves)
    assert_reverts(
        lambda: batch.direct(0, REVOKED, proof=wrong).transact({"from": chain.member}),
        "InvalidProof(bytes32,uint256)",
        batch.leaves[0],
        batch.id,
    )
    assert_reverts(
        lambda: batch.via(relay, 0, SUPERSEDED).transact({"from": chain.admin}),
        "StatusNotAllowed(address,uint8)",
        relay.address,
        SUPERSEDED,
    )
    invalid = "InvalidStatusChange(bytes32,uint8,uint8)"
    assert_reverts(  # Active to Active
        lambda: batch.via(relay, 0, ACTIVE).transact({"from": chain.admin}),
        invalid,
        batch.leaves[0],
        ACTIVE,
        ACTIVE,
    )
    chain.send(batch.via(relay, 0, DISPUTED), chain.admin)
    assert_reverts(
        lambda: batch.via(relay, 0, DISPUTED).transact({"from": chain.admin}),
        invalid,
        batch.leaves[0],
        DISPUTED,
        DISPUTED,
    )
    chain.send(batch.direct(0, EXPIRED), chain.member)  # a disputed record expires all the same
    assert_reverts(
        lambda: batch.direct(0, REVOKED).transact({"from": chain.member}),
        invalid,
        batch.leaves[0],
        EXPIRED,
        REVOKED,
    )
    fn = chain.registry.functions.supersede(
        batch.leaves[1], batch.id, 1, ref_path(1, batch.leaves), ZERO
    )
    chain.send(fn, chain.member)
    assert_reverts(
        lambda: batch.direct(1, REVOKED).transact({"from": chain.member}),
        invalid,
        batch.leaves[1],
        SUPERSEDED,
        REVOKED,
    )
    unknown = chain.registry.functions.setStatus(batch.leaves[2], 9, 2, [], REVOKED)
    assert_reverts(lambda: unknown.transact({"from": chain.member}), "UnknownBatch(uint256)", 9)


# --- many statuses in one transaction ----------------------------------------------------------


def _marks(batch: _Batch, indexes: range | list[int]) -> list[tuple]:
    """setStatuses' marks for leaves `indexes` of `batch`: (commitment, batch id, index, proof)."""
    return [(batch.leaves[i], batch.id, i, ref_path(i, batch.leaves)) for i in indexes]


def test_member_expires_many_of_its_commitments_in_one_transaction(chain: Chain) -> None:
    batch = _Batch(chain, n=8)
    fn = chain.registry.functions.setStatuses(_marks(batch, range(8)), EXPIRED)
    assert fn.call({"from": chain.member}) == 8
    receipt = chain.send(fn, chain.member)
    assert [batch.status(i) for i in range(8)] == [EXPIRED] * 8
    events = chain.registry.events.RecordStatusChanged().process_receipt(receipt, DISCARD)
    assert [e.args.commitment for e in events] == batch.leaves
    assert {(e.args.member, e.args.by, e.args.previous, e.args.status) for e in events} == {
        (chain.member, chain.member, ACTIVE, EXPIRED)
    }


def test_a_mark_changed_by_someone_else_first_is_skipped_and_the_others_applied(
    chain: Chain, relay_artefact: dict
) -> None:
    relay = _relay(chain, relay_artefact, registered=True)
    batch = _Batch(chain, n=5)
    chain.send(batch.direct(1, REVOKED), chain.member)
    chain.send(batch.via(relay, 3, DISPUTED), chain.outsider)  # a disputed record may expire
    fn = chain.registry.functions.setStatuses(_marks(batch, range(5)), EXPIRED)
    assert fn.call({"from": chain.member}) == 4
    receipt = chain.send(fn, chain.member)
    assert [batch.status(i) for i in range(5)] == [EXPIRED, REVOKED, EXPIRED, EXPIRED, EXPIRED]
    events = chain.registry.events.RecordStatusChanged().process_receipt(receipt, DISCARD)
    assert [(e.args.commitment, e.args.previous) for e in events] == [
        (batch.leaves[0], ACTIVE),
        (batch.leaves[2], ACTIVE),
        (batch.leaves[3], DISPUTED),
        (batch.leaves[4], ACTIVE),
    ]
    again = chain.registry.functions.setStatuses(_marks(batch, [0, 2]), EXPIRED)
    assert again.call({"from": chain.member}) == 0  # already expired: skipped, not reverted


def test_many_statuses_at_once_take_the_checks_of_one(chain: Chain) -> None:
    batch = _Batch(chain)
    set_statuses = chain.registry.functions.setStatuses
    good = _marks(batch, range(4))
    bad_proof = good[:2] + [(batch.leaves[2], batch.id, 2, ref_path(1, batch.leaves))]
    cases = [
        (good, DISPUTED, chain.member, "StatusNotAllowed(address,uint8)", chain.member, DISPUTED),
        (good, SUPERSEDED, chain.member, "StatusNotAllowed(address,uint8)", chain.member,
         SUPERSEDED),
        (good, EXPIRED, chain.outsider, "NotActiveMember(address)", chain.outsider),
        (good, EXPIRED, chain.other, "NotBatchOwner(address,uint256)", chain.other, batch.id),
        (bad_proof, EXPIRED, chain.member, "InvalidProof(bytes32,uint256)", batch.leaves[2],
         batch.id),
        (good[:1] + [(batch.leaves[1], 99, 1, [])], REVOKED, chain.member,
         "UnknownBatch(uint256)", 99),
        ([], EXPIRED, chain.member, "EmptyBatch()"),
        (good * 26, EXPIRED, chain.member, "TooManyMarks(uint256,uint256)", 104, 100),
    ]  # fmt: skip
    for marks, status, sender, error, *args in cases:
        assert_reverts(
            lambda m=marks, st=status, se=sender: set_statuses(m, st).transact({"from": se}),
            error,
            *args,
        )
    assert [batch.status(i) for i in range(4)] == [ACTIVE] * 4  # nothing of a refused call
    chain.send(set_statuses(good, REVOKED), chain.member)
    assert [batch.status(i) for i in range(4)] == [REVOKED] * 4


def test_a_full_call_of_marks_in_the_biggest_batch_stays_under_the_node_gas_limit(
    chain: Chain,
) -> None:
    leaves = commitments(MAX_LEAVES, b"big")
    levels = tree_levels(leaves)
    reg = chain.registry.functions
    fn = reg.anchorBatch(root_from_levels(levels), len(leaves), ZERO)
    (event,) = chain.registry.events.BatchAnchored().process_receipt(chain.send(fn, chain.member))
    picked = range(0, MAX_LEAVES, MAX_LEAVES // STATUS_MARKS)[:STATUS_MARKS]
    marks = [(leaves[i], event.args.batchId, i, inclusion_proof(levels, i)) for i in picked]
    assert len(marks) == STATUS_MARKS and len(marks[0][3]) == 15
    receipt = chain.send(reg.setStatuses(marks, EXPIRED), chain.member)
    assert receipt.gasUsed < status_batch_gas(STATUS_MARKS)
    assert all(reg.statusOf(leaves[i]).call() == EXPIRED for i in picked)


# --- expiry in a batch's bitmap -----------------------------------------------------------------


def _status_at(batch: _Batch, i: int) -> int:
    fn = batch.chain.registry.functions.statusAt
    return fn(batch.leaves[i], batch.id, i, ref_path(i, batch.leaves)).call()


def test_member_expires_leaves_in_its_batchs_bitmap_without_proofs(chain: Chain) -> None:
    batch = _Batch(chain, n=300)
    reg = chain.registry.functions
    fn = reg.expireLeaves(batch.id, [0, 1], [0b1011, 1 << (299 - 256)])
    assert fn.call({"from": chain.member}) == 4
    receipt = chain.send(fn, chain.member)
    events = chain.registry.events.LeavesExpired().process_receipt(receipt, DISCARD)
    assert [(e.args.batchId, e.args.member, e.args.word, e.args.bits) for e in events] == [
        (batch.id, chain.member, 0, 0b1011),
        (batch.id, chain.member, 1, 1 << 43),
    ]
    assert [_status_at(batch, i) for i in (0, 1, 2, 3, 4, 299)] == [
        EXPIRED, EXPIRED, ACTIVE, EXPIRED, ACTIVE, EXPIRED]  # fmt: skip
    assert batch.status(0) == ACTIVE  # statusOf does not know the bitmap
    assert reg.expiredLeaves(batch.id, 0).call() == 0b1011
    again = reg.expireLeaves(batch.id, [0], [0b1111])  # bits set before are ignored
    assert again.call({"from": chain.member}) == 1
    (event,) = chain.registry.events.LeavesExpired().process_receipt(
        chain.send(again, chain.member), DISCARD
    )
    assert event.args.bits == 0b0100
    none = chain.send(reg.expireLeaves(batch.id, [0], [0b0011]), chain.member)
    assert chain.registry.events.LeavesExpired().process_receipt(none, DISCARD) == ()


def test_expiring_leaves_is_refused_past_the_batch_and_to_anyone_but_its_member(
    chain: Chain,
) -> None:
    batch = _Batch(chain, n=5)
    reg = chain.registry.functions
    cases = [
        (batch.id, [0], [1 << 5], chain.member, "LeafOutOfRange(uint256,uint256,uint256,uint64)",
         batch.id, 0, 1 << 5, 5),
        (batch.id, [1], [1], chain.member, "LeafOutOfRange(uint256,uint256,uint256,uint64)",
         batch.id, 1, 1, 5),
        (batch.id, [0], [1], chain.other, "NotBatchOwner(address,uint256)", chain.other,
         batch.id),
        (batch.id, [0], [1], chain.outsider, "NotActiveMember(address)", chain.outsider),
        (99, [0], [1], chain.member, "UnknownBatch(uint256)", 99),
        (batch.id, [], [], chain.member, "EmptyBatch()"),
        (batch.id, [0, 0], [1], chain.member, "WordsBitsMismatch(uint256,uint256)", 2, 1),
        (batch.id, [0] * 129, [1] * 129, chain.member, "TooManyWords(uint256,uint256)", 129,
         128),
    ]  # fmt: skip
    for batch_id, words, bits, sender, error, *args in cases:
        assert_reverts(
            lambda b=batch_id, w=words, x=bits, se=sender: reg.expireLeaves(b, w, x).transact(
                {"from": se}
            ),
            error,
            *args,
        )
    assert reg.expiredLeaves(batch.id, 0).call() == 0
    propose(chain, chain.admin, SUSPEND, chain.member)
    assert_reverts(
        lambda: reg.expireLeaves(batch.id, [0], [1]).transact({"from": chain.member}),
        "NotActiveMember(address)",
        chain.member,
    )


def test_status_at_needs_a_valid_proof_and_keeps_final_statuses_over_the_bit(
    chain: Chain,
) -> None:
    batch = _Batch(chain)
    reg = chain.registry.functions
    wrong = reg.statusAt(batch.leaves[0], batch.id, 0, ref_path(1, batch.leaves))
    assert_reverts(wrong.call, "InvalidProof(bytes32,uint256)", batch.leaves[0], batch.id)
    assert_reverts(reg.statusAt(batch.leaves[0], 9, 0, []).call, "UnknownBatch(uint256)", 9)
    chain.send(batch.direct(1, REVOKED), chain.member)
    chain.send(reg.expireLeaves(batch.id, [0], [0b11]), chain.member)
    assert [_status_at(batch, i) for i in range(4)] == [EXPIRED, REVOKED, ACTIVE, ACTIVE]


def test_no_step_leaves_an_expired_leaf(chain: Chain, relay_artefact: dict) -> None:
    relay = _relay(chain, relay_artefact, registered=True)
    batch = _Batch(chain)
    chain.send(batch.via(relay, 1, DISPUTED), chain.outsider)  # a disputed record expires too
    chain.send(chain.registry.functions.expireLeaves(batch.id, [0], [0b11]), chain.member)
    assert [_status_at(batch, i) for i in (0, 1)] == [EXPIRED, EXPIRED]
    invalid = "InvalidStatusChange(bytes32,uint8,uint8)"
    for i in (0, 1):
        for status in (DISPUTED, ACTIVE, REVOKED, EXPIRED):
            assert_reverts(
                lambda i=i, st=status: batch.via(relay, i, st).transact({"from": chain.admin}),
                invalid,
                batch.leaves[i],
                EXPIRED,
                status,
            )
        assert_reverts(
            lambda i=i: batch.direct(i, REVOKED).transact({"from": chain.member}),
            invalid,
            batch.leaves[i],
            EXPIRED,
            REVOKED,
        )
        supersede = chain.registry.functions.supersede(
            batch.leaves[i], batch.id, i, ref_path(i, batch.leaves), b"\x0c" * 32
        )
        assert_reverts(
            lambda fn=supersede: fn.transact({"from": chain.member}),
            "StatusNotActive(bytes32,uint8)",
            batch.leaves[i],
            EXPIRED,
        )
    marks = chain.registry.functions.setStatuses(_marks(batch, [0, 1]), REVOKED)
    assert marks.call({"from": chain.member}) == 0  # skipped, as for any final status
    assert [_status_at(batch, i) for i in range(4)] == [EXPIRED, EXPIRED, ACTIVE, ACTIVE]


def test_a_full_call_of_words_stays_under_the_node_gas_limit(chain: Chain) -> None:
    leaves = commitments(MAX_LEAVES, b"big")
    reg = chain.registry.functions
    fn = reg.anchorBatch(root_from_levels(tree_levels(leaves)), len(leaves), ZERO)
    (event,) = chain.registry.events.BatchAnchored().process_receipt(chain.send(fn, chain.member))
    words = list(range(EXPIRY_WORDS))
    full = (1 << 256) - 1
    expire = reg.expireLeaves(event.args.batchId, words, [full] * len(words))
    receipt = chain.send(expire, chain.member)
    assert receipt.gasUsed < expiry_gas(EXPIRY_WORDS)
    assert reg.expiredLeaves(event.args.batchId, EXPIRY_WORDS - 1).call() == full


# --- anvil ------------------------------------------------------------------------------------


def _send_signed(w3: Web3, account: Any, tx: dict) -> Any:
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt.status == 1
    return receipt


@pytest.mark.anvil
def test_deploy_and_anchor_on_anvil(anvil: str, compiled: dict[str, dict]) -> None:
    """`anvil` (tests/conftest.py) starts node_modules/.bin/anvil on a free port."""
    w3 = Web3(HTTPProvider(anvil))
    account = Account.from_key(ANVIL_KEY)
    base = {"from": account.address, "chainId": w3.eth.chain_id}

    def transact(fn: Any) -> Any:
        nonce = w3.eth.get_transaction_count(account.address)
        return _send_signed(w3, account, fn.build_transaction({**base, "nonce": nonce}))

    def deploy_signed(name: str, *args: Any) -> Contract:
        factory = w3.eth.contract(abi=compiled[name]["abi"], bytecode=compiled[name]["bytecode"])
        address = transact(factory.constructor(*args)).contractAddress
        return w3.eth.contract(address=address, abi=compiled[name]["abi"])

    key = PublicKey.from_secret(bytes.fromhex(ANVIL_KEY[2:])).format(compressed=False)
    consortium = deploy_signed("Consortium", [account.address], ["Anvil Lender"], [""], [key], 1)
    registry = deploy_signed("RecordRegistry", consortium.address)

    leaves = commitments(5)
    receipt = transact(registry.functions.anchorBatch(ref_mth(leaves), 5, ZERO))
    (event,) = registry.events.BatchAnchored().process_receipt(receipt)
    assert event.args.batchId == 1
    assert registry.functions.getBatch(1).call()[:4] == [account.address, ref_mth(leaves), 5, ZERO]
    proof = ref_path(3, leaves)
    assert registry.functions.verifyInclusion(leaves[3], 3, 5, proof, ref_mth(leaves)).call()

    stranger = Account.create().address
    with pytest.raises(ContractCustomError) as info:
        registry.functions.anchorBatch(b"\x01" * 32, 1, ZERO).call({"from": stranger})
    assert info.value.data[:10] == "0x" + keccak(text="NotActiveMember(address)")[:4].hex()


def test_anchoring_member_supersedes_a_disputed_commitment_with_its_correction(
    chain: Chain, relay_artefact: dict
) -> None:
    relay = _relay(chain, relay_artefact, registered=True)
    batch = _Batch(chain)
    chain.send(batch.via(relay, 1, DISPUTED), chain.outsider)
    corrected = b"\x0c" * 32
    fn = chain.registry.functions.supersede(
        batch.leaves[1], batch.id, 1, ref_path(1, batch.leaves), corrected
    )
    receipt = chain.send(fn, chain.member)
    (event,) = chain.registry.events.RecordStatusChanged().process_receipt(receipt, DISCARD)
    assert (event.args.previous, event.args.status, event.args.replacement) == (
        DISPUTED,
        SUPERSEDED,
        corrected,
    )
    assert_reverts(  # a relay may not supersede: only the anchoring member corrects
        lambda: batch.via(relay, 2, SUPERSEDED).transact({"from": chain.admin}),
        "StatusNotAllowed(address,uint8)",
        relay.address,
        SUPERSEDED,
    )
