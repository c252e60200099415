"""The Consortium and RecordRegistry contracts, on an in-memory eth-tester chain and on anvil."""

from __future__ import annotations

import ast
import hashlib
import pathlib
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import eth_tester
import pytest
import solcx
from eth_abi import abi
from eth_account import Account
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak
from packaging.version import Version
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from node.chain import compile as compile_mod
from node.chain.compile import CompilerNotFound, compile_contracts
from tests.conftest import ref_mth, ref_path

# anvil's first well-known dev account; a public test key, never to be used outside tests.
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ZERO = b"\x00" * 32

ACTIVE, SUPERSEDED = 0, 1  # RecordRegistry.RecordStatus
M_ACTIVE, M_SUSPENDED, M_REMOVED = 1, 2, 3  # Consortium.MemberStatus


def commitments(n: int, tag: bytes = b"c") -> list[bytes]:
    return [hashlib.sha256(tag + i.to_bytes(4, "big")).digest() for i in range(n)]


# --- custom errors ----------------------------------------------------------------------------


def revert_data(exc: BaseException) -> bytes:
    """The raw revert data of a failed call or transaction.

    JSON-RPC nodes (anvil, Besu) make web3 raise ContractCustomError with `data` as 0x-hex.
    web3's EthereumTesterProvider raises eth_tester's TransactionFailed instead, whose message
    holds only the repr of the revert bytes: "execution reverted: b'...'".
    """
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    message = str(exc.args[0]) if exc.args else ""
    literal = message.removeprefix("execution reverted: ")
    if literal[:2] in ("b'", 'b"'):
        value = ast.literal_eval(literal)
        if isinstance(value, bytes):
            return value
    raise AssertionError(f"no revert data in {exc!r}")


def assert_reverts(action: Callable[[], Any], signature: str, *args: Any) -> None:
    """`action` reverts with the custom error `signature`, e.g. "EmptyBatch()", and `args`."""
    with pytest.raises((ContractCustomError, TransactionFailed)) as info:
        action()
    data = revert_data(info.value)
    assert data[:4] == keccak(text=signature)[:4], signature
    types = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    decoded = abi.decode(types, data[4:])
    expected = tuple(a.lower() if isinstance(a, str) else a for a in args)
    assert tuple(d.lower() if isinstance(d, str) else d for d in decoded) == expected


# --- chain fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def compiled() -> dict[str, dict]:
    return compile_contracts()


@dataclass
class Chain:
    w3: Web3
    consortium: Contract
    registry: Contract
    admin: str
    member: str
    other: str
    outsider: str

    def send(self, fn: Any, sender: str) -> Any:
        """Transact and return the receipt (the eth-tester accounts are unlocked)."""
        return self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))


def deploy(w3: Web3, artefact: dict, *args: Any, sender: str) -> Contract:
    factory = w3.eth.contract(abi=artefact["abi"], bytecode=artefact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(*args).transact({"from": sender})
    )
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=artefact["abi"])


@pytest.fixture
def chain(compiled: dict[str, dict]) -> Chain:
    w3 = Web3(EthereumTesterProvider(eth_tester.EthereumTester(eth_tester.PyEVMBackend())))
    admin, member, other, outsider = w3.eth.accounts[:4]
    consortium = deploy(w3, compiled["Consortium"], "Founding Lender", sender=admin)
    registry = deploy(w3, compiled["RecordRegistry"], consortium.address, sender=admin)
    c = Chain(w3, consortium, registry, admin, member, other, outsider)
    c.send(consortium.functions.addMember(member, "Member Lender"), admin)
    c.send(consortium.functions.addMember(other, "Other Lender"), admin)
    return c


def anchor(c: Chain, sender: str, leaves: list[bytes], prev: bytes = ZERO) -> tuple[int, Any]:
    """Anchor `leaves` as one batch; returns (batch id, receipt)."""
    receipt = c.send(c.registry.functions.anchorBatch(ref_mth(leaves), len(leaves), prev), sender)
    (event,) = c.registry.events.BatchAnchored().process_receipt(receipt)
    return event.args.batchId, receipt


# --- compiling --------------------------------------------------------------------------------


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

    def fake_compile(srcs: dict[str, str]) -> dict[str, dict]:
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
    assert cons.getMember(chain.admin).call() == [M_ACTIVE, True, "Founding Lender"]
    assert not cons.isAdmin(chain.member).call()
    assert cons.memberStatus(chain.outsider).call() == 0
    assert cons.memberCount().call() == 3


def test_admin_adds_member_with_event(chain: Chain) -> None:
    receipt = chain.send(chain.consortium.functions.addMember(chain.outsider, "New"), chain.admin)
    (event,) = chain.consortium.events.MemberAdded().process_receipt(receipt)
    assert event.args.member == chain.outsider and event.args.name == "New"
    assert chain.consortium.functions.isActiveMember(chain.outsider).call()


def test_non_admin_cannot_add_member(chain: Chain) -> None:
    fn = chain.consortium.functions.addMember(chain.outsider, "X")
    assert_reverts(lambda: fn.transact({"from": chain.member}), "NotAdmin(address)", chain.member)


def test_member_cannot_be_added_twice(chain: Chain) -> None:
    fn = chain.consortium.functions.addMember(chain.member, "Again")
    assert_reverts(
        lambda: fn.transact({"from": chain.admin}), "AlreadyMember(address)", chain.member
    )


def test_admin_suspends_and_reinstates_member_with_events(chain: Chain) -> None:
    cons = chain.consortium
    receipt = chain.send(cons.functions.setMemberStatus(chain.member, M_SUSPENDED), chain.admin)
    (event,) = cons.events.MemberStatusChanged().process_receipt(receipt)
    assert (event.args.previous, event.args.status) == (M_ACTIVE, M_SUSPENDED)
    assert not cons.functions.isActiveMember(chain.member).call()
    chain.send(cons.functions.setMemberStatus(chain.member, M_ACTIVE), chain.admin)
    assert cons.functions.isActiveMember(chain.member).call()


def test_removed_member_cannot_be_reinstated(chain: Chain) -> None:
    cons = chain.consortium.functions
    chain.send(cons.setMemberStatus(chain.member, M_REMOVED), chain.admin)
    fn = cons.setMemberStatus(chain.member, M_ACTIVE)
    assert_reverts(
        lambda: fn.transact({"from": chain.admin}),
        "InvalidStatusChange(address,uint8,uint8)",
        chain.member,
        M_REMOVED,
        M_ACTIVE,
    )


def test_status_of_unknown_member_cannot_be_set(chain: Chain) -> None:
    fn = chain.consortium.functions.setMemberStatus(chain.outsider, M_SUSPENDED)
    assert_reverts(
        lambda: fn.transact({"from": chain.admin}), "UnknownMember(address)", chain.outsider
    )


def test_last_admin_cannot_suspend_itself(chain: Chain) -> None:
    fn = chain.consortium.functions.setMemberStatus(chain.admin, M_SUSPENDED)
    assert_reverts(lambda: fn.transact({"from": chain.admin}), "LastAdmin(address)", chain.admin)


def test_second_admin_can_suspend_the_first(chain: Chain) -> None:
    cons = chain.consortium.functions
    chain.send(cons.setAdmin(chain.member, True), chain.admin)
    chain.send(cons.setMemberStatus(chain.admin, M_SUSPENDED), chain.member)
    assert not cons.isAdmin(chain.admin).call()
    assert cons.adminCount().call() == 1


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
    chain.send(chain.consortium.functions.setMemberStatus(chain.member, M_SUSPENDED), chain.admin)
    fn = chain.registry.functions.anchorBatch(b"\x01" * 32, 1, ZERO)
    assert_reverts(
        lambda: fn.transact({"from": chain.member}), "NotActiveMember(address)", chain.member
    )


def test_reinstated_member_can_anchor_again(chain: Chain) -> None:
    cons = chain.consortium.functions
    chain.send(cons.setMemberStatus(chain.member, M_SUSPENDED), chain.admin)
    chain.send(cons.setMemberStatus(chain.member, M_ACTIVE), chain.admin)
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

    consortium = deploy_signed("Consortium", "Anvil Lender")
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
