"""Consortium governance: M-of-N admin votes admit, suspend, reinstate and remove members and
grant roles, and the registry refuses whoever is no longer active."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import eth_tester
import pytest
from coincurve import PublicKey
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from node.chain.deploy import DEPLOY_LIST, contract_name
from tests.conftest import (
    ADMIN,
    ADMIT,
    AUDITOR,
    GRANT_AUDITOR,
    GRANT_REGULATOR,
    M_ACTIVE,
    M_REMOVED,
    M_SUSPENDED,
    REGULATOR,
    REINSTATE,
    REMOVE,
    REVOKE_AUDITOR,
    SUSPEND,
    ZERO,
    assert_reverts,
    commitments,
    deploy,
    found_on_tester,
    founder_list,
    founders,
    in_memory_chain,
    pubkey,
    ref_mth,
    revert_data,
)

OPEN, EXECUTED, EXPIRED = 0, 1, 2  # Consortium.ProposalState
SET_CONTRACT = 8  # Consortium.Action
NOBODY = "0x" + "00" * 20
WEEK = 7 * 24 * 3600


@dataclass
class Gov:
    """Three founding admins with M = 2, the registry, and accounts not yet admitted."""

    w3: Web3
    consortium: Contract
    registry: Contract
    admins: list[str]
    candidates: list[str]

    def send(self, fn: Any, sender: str) -> Any:
        return self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))

    def events(self, name: str, receipt: Any) -> list[Any]:
        return list(getattr(self.consortium.events, name)().process_receipt(receipt, DISCARD))

    def propose(
        self,
        sender: str,
        action: int,
        subject: str,
        name: str = "",
        url: str = "",
        key: bytes = b"",
    ) -> int:
        fn = self.consortium.functions.propose(action, subject, name, url, key)
        receipt = self.send(fn, sender)
        (created,) = self.events("ProposalCreated", receipt)
        return created.args.id

    def propose_admit(self, sender: str, candidate: str, name: str = "New Lender") -> int:
        url = "http://127.0.0.1:8799"
        return self.propose(sender, ADMIT, candidate, name, url, pubkey(candidate))

    def propose_contract(self, name: bytes, account: str) -> int:
        """The first admin proposes setting contract `name` to `account`; the proposal id."""
        receipt = self.send(
            self.consortium.functions.proposeContract(name, account), self.admins[0]
        )
        (created,) = self.events("ProposalCreated", receipt)
        return created.args.id

    def vote(self, proposal_id: int, sender: str) -> Any:
        return self.send(self.consortium.functions.vote(proposal_id), sender)

    def passed(
        self, action: int, subject: str, name: str = "", url: str = "", key: bytes = b""
    ) -> Any:
        """Proposed by the first admin, passed by the second's vote; the vote's receipt."""
        proposal_id = self.propose(self.admins[0], action, subject, name, url, key)
        return self.vote(proposal_id, self.admins[1])

    def anchor(self, sender: str, tag: bytes) -> Any:
        leaves = commitments(2, tag)
        prev = self.registry.functions.lastRoot(sender).call()
        fn = self.registry.functions.anchorBatch(ref_mth(leaves), len(leaves), prev)
        return self.send(fn, sender)

    def reverts(self, fn: Any, sender: str, signature: str, *args: Any) -> None:
        assert_reverts(lambda: fn.transact({"from": sender}), signature, *args)


@pytest.fixture
def gov(compiled: dict[str, dict]) -> Gov:
    w3 = in_memory_chain()
    accounts = w3.eth.accounts
    admins = accounts[:3]
    contracts = found_on_tester(w3, compiled, founder_list(*admins), 2)
    return Gov(w3, contracts["Consortium"], contracts["RecordRegistry"], admins, accounts[3:])


def _admitted(g: Gov, member: str) -> str:
    g.passed(ADMIT, member, "Member Lender", "http://127.0.0.1:8799", pubkey(member))
    return member


def _time_travel(g: Gov, seconds: int) -> None:
    now = g.w3.eth.get_block("latest").timestamp
    g.w3.provider.ethereum_tester.time_travel(now + seconds)


# --- founding ---------------------------------------------------------------------------------


def test_founding_admins_are_active_members_with_their_details(gov: Gov) -> None:
    cons = gov.consortium.functions
    assert cons.threshold().call() == 2
    assert cons.adminCount().call() == cons.memberCount().call() == 3
    for i, admin in enumerate(gov.admins):
        assert cons.memberAt(i).call() == admin
        assert cons.isAdmin(admin).call() and cons.hasRole(admin, ADMIN).call()
        status, roles, name, url, key, joined = cons.getMember(admin).call()
        assert (status, roles, name) == (M_ACTIVE, 1 << ADMIN, f"Founder {i}")
        assert (url, key) == (f"http://127.0.0.1:{8701 + i}", pubkey(admin))
        assert joined > 0


def test_founding_emits_member_and_role_events(gov: Gov) -> None:
    added = gov.consortium.events.MemberAdded.get_logs(from_block=0)
    granted = gov.consortium.events.RoleGranted.get_logs(from_block=0)
    assert [e.args.member for e in added] == gov.admins
    assert [(e.args.member, e.args.role) for e in granted] == [(a, ADMIN) for a in gov.admins]


@pytest.mark.parametrize("m", [0, 4])
def test_threshold_outside_one_to_n_is_refused(compiled: dict[str, dict], m: int) -> None:
    w3 = Web3(EthereumTesterProvider(eth_tester.EthereumTester(eth_tester.PyEVMBackend())))
    artefact = compiled["Consortium"]
    factory = w3.eth.contract(abi=artefact["abi"], bytecode=artefact["bytecode"])
    ctor = factory.constructor(*founders(*w3.eth.accounts[:3]), m)
    assert_reverts(
        lambda: ctor.transact({"from": w3.eth.accounts[0]}),
        "InvalidThreshold(uint256,uint256)",
        m,
        3,
    )


def test_founder_lists_must_match_and_stay_bounded(compiled: dict[str, dict]) -> None:
    w3 = Web3(EthereumTesterProvider(eth_tester.EthereumTester(eth_tester.PyEVMBackend())))
    factory = w3.eth.contract(
        abi=compiled["Consortium"]["abi"], bytecode=compiled["Consortium"]["bytecode"]
    )
    sender = {"from": w3.eth.accounts[0]}
    admins, names, urls, keys = founders(*w3.eth.accounts[:2])
    short = factory.constructor(admins, names[:1], urls, keys, 1)
    signature = "LengthMismatch(uint256,uint256,uint256,uint256)"
    assert_reverts(lambda: short.transact(sender), signature, 2, 1, 2, 2)
    many = [Web3.to_checksum_address(keccak(i.to_bytes(2, "big"))[:20]) for i in range(33)]
    too_many = factory.constructor(*founders(*many), 1)
    assert_reverts(lambda: too_many.transact(sender), "TooManyFounders(uint256,uint256)", 33, 32)
    twice = factory.constructor(*founders(admins[0], admins[0]), 1)
    assert_reverts(
        lambda: twice.transact(sender),
        "InvalidAction(uint8,address,uint8)",
        ADMIT,
        admins[0],
        M_ACTIVE,
    )


# --- admission --------------------------------------------------------------------------------


def test_admission_needs_m_votes_not_m_minus_one(gov: Gov) -> None:
    cons = gov.consortium.functions
    candidate = gov.candidates[0]
    proposal_id = gov.propose_admit(gov.admins[0], candidate, "Candidate Lender")
    assert cons.getProposal(proposal_id).call()[3] == 1
    assert cons.memberStatus(candidate).call() == 0
    assert not cons.isActiveMember(candidate).call()
    gov.reverts(
        gov.registry.functions.anchorBatch(b"\x01" * 32, 1, ZERO),
        candidate,
        "NotActiveMember(address)",
        candidate,
    )

    receipt = gov.vote(proposal_id, gov.admins[2])

    (voted,) = gov.events("Voted", receipt)
    assert (voted.args.id, voted.args.voter, voted.args.votes) == (proposal_id, gov.admins[2], 2)
    (executed,) = gov.events("ProposalExecuted", receipt)
    assert executed.args.id == proposal_id
    (added,) = gov.events("MemberAdded", receipt)
    assert (added.args.member, added.args.name) == (candidate, "Candidate Lender")
    assert added.args.nodeUrl == "http://127.0.0.1:8799"
    assert added.args.publicKey == pubkey(candidate)
    assert cons.isActiveMember(candidate).call()
    assert not cons.isAdmin(candidate).call()
    assert cons.getMember(candidate).call()[:5] == [
        M_ACTIVE,
        0,
        "Candidate Lender",
        "http://127.0.0.1:8799",
        pubkey(candidate),
    ]
    assert gov.anchor(candidate, b"c").status == 1


def test_proposal_records_its_action_votes_and_candidate(gov: Gov) -> None:
    cons = gov.consortium.functions
    candidate = gov.candidates[0]
    receipt = gov.send(
        cons.propose(ADMIT, candidate, "Candidate", "http://node.example", pubkey(candidate)),
        gov.admins[1],
    )
    (created,) = gov.events("ProposalCreated", receipt)
    assert (created.args.id, created.args.action) == (1, ADMIT)
    assert (created.args.subject, created.args.proposer) == (candidate, gov.admins[1])
    (voted,) = gov.events("Voted", receipt)
    assert (voted.args.voter, voted.args.votes) == (gov.admins[1], 1)
    assert not gov.events("ProposalExecuted", receipt)

    created_at = gov.w3.eth.get_block(receipt.blockNumber).timestamp
    assert cons.getProposal(1).call() == [
        ADMIT,
        candidate,
        gov.admins[1],
        1,
        created_at,
        created_at + WEEK,
        OPEN,
    ]
    assert cons.getCandidate(1).call() == ["Candidate", "http://node.example", pubkey(candidate)]
    assert cons.proposalCount().call() == 1
    assert cons.hasVoted(1, gov.admins[1]).call()
    assert not cons.hasVoted(1, gov.admins[0]).call()
    gov.vote(1, gov.admins[0])
    assert cons.getProposal(1).call()[3:] == [2, created_at, created_at + WEEK, EXECUTED]


def test_unknown_proposal_is_refused(gov: Gov) -> None:
    cons = gov.consortium.functions
    gov.reverts(cons.vote(0), gov.admins[0], "UnknownProposal(uint256)", 0)
    gov.reverts(cons.vote(1), gov.admins[0], "UnknownProposal(uint256)", 1)
    assert_reverts(lambda: cons.getProposal(5).call(), "UnknownProposal(uint256)", 5)


@pytest.mark.parametrize(
    ("name", "url", "key", "error"),
    [
        ("", "", None, "InvalidName()"),
        ("x" * 257, "", None, "InvalidName()"),
        ("Lender", "h" * 257, None, "InvalidNodeUrl()"),
        ("Lender", "", b"", "InvalidPublicKey()"),
        ("Lender", "", b"\x05" + b"\x01" * 64, "InvalidPublicKey()"),
        ("Lender", "", b"\x04" + b"\x01" * 64, "InvalidPublicKey()"),  # not on the curve
        ("Lender", "", b"\x04" + b"\x01" * 32, "InvalidPublicKey()"),
        ("Lender", "", b"\x02" + b"\xff" * 32, "InvalidPublicKey()"),  # x above the field prime
    ],
)
def test_admission_with_bad_details_is_refused(
    gov: Gov, name: str, url: str, key: bytes | None, error: str
) -> None:
    candidate = gov.candidates[0]
    key = pubkey(candidate) if key is None else key
    fn = gov.consortium.functions.propose(ADMIT, candidate, name, url, key)
    gov.reverts(fn, gov.admins[0], error)


def test_compressed_public_key_and_multibyte_name_are_accepted(gov: Gov) -> None:
    candidate = gov.candidates[0]
    key = PublicKey(pubkey(candidate)).format(compressed=True)
    gov.passed(ADMIT, candidate, "测试小额贷款有限公司", "", key)
    assert gov.consortium.functions.getMember(candidate).call()[2:5] == [
        "测试小额贷款有限公司",
        "",
        key,
    ]


def test_zero_address_and_existing_member_cannot_be_admitted(gov: Gov) -> None:
    cons = gov.consortium.functions
    zero = "0x" + "00" * 20
    gov.reverts(
        cons.propose(ADMIT, zero, "Nobody", "", pubkey(zero)), gov.admins[0], "ZeroAddress()"
    )
    member = gov.admins[2]
    gov.reverts(
        cons.propose(ADMIT, member, "Again", "", pubkey(member)),
        gov.admins[0],
        "InvalidAction(uint8,address,uint8)",
        ADMIT,
        member,
        M_ACTIVE,
    )


def test_action_no_longer_valid_at_the_last_vote_reverts_and_stays_open(gov: Gov) -> None:
    candidate = gov.candidates[0]
    first = gov.propose_admit(gov.admins[0], candidate)
    second = gov.propose_admit(gov.admins[1], candidate)
    gov.vote(first, gov.admins[2])
    gov.reverts(
        gov.consortium.functions.vote(second),
        gov.admins[2],
        "InvalidAction(uint8,address,uint8)",
        ADMIT,
        candidate,
        M_ACTIVE,
    )
    proposal = gov.consortium.functions.getProposal(second).call()
    assert (proposal[3], proposal[-1]) == (1, OPEN)  # one vote, still open until it expires


# --- voting rules -----------------------------------------------------------------------------


def test_vote_or_proposal_by_non_admin_is_refused(gov: Gov) -> None:
    member = _admitted(gov, gov.candidates[0])
    outsider = gov.candidates[1]
    proposal_id = gov.propose_admit(gov.admins[0], outsider)
    vote = gov.consortium.functions.vote(proposal_id)
    for who in (member, outsider):
        gov.reverts(vote, who, "NotAdmin(address)", who)
    propose = gov.consortium.functions.propose(SUSPEND, gov.admins[0], "", "", b"")
    gov.reverts(propose, member, "NotAdmin(address)", member)


def test_double_vote_is_refused(gov: Gov) -> None:
    proposal_id = gov.propose_admit(gov.admins[0], gov.candidates[0])
    vote = gov.consortium.functions.vote(proposal_id)
    signature = "AlreadyVoted(uint256,address)"
    gov.reverts(vote, gov.admins[0], signature, proposal_id, gov.admins[0])


def test_vote_on_executed_proposal_is_refused(gov: Gov) -> None:
    proposal_id = gov.propose_admit(gov.admins[0], gov.candidates[0])
    gov.vote(proposal_id, gov.admins[1])
    vote = gov.consortium.functions.vote(proposal_id)
    gov.reverts(vote, gov.admins[2], "ProposalClosed(uint256)", proposal_id)


def test_vote_after_the_voting_period_is_refused(gov: Gov) -> None:
    cons = gov.consortium.functions
    assert cons.VOTING_PERIOD().call() == WEEK
    candidate = gov.candidates[0]
    late = gov.propose_admit(gov.admins[0], candidate)
    _time_travel(gov, WEEK - 60)
    in_time = gov.propose_admit(gov.admins[0], candidate)
    _time_travel(gov, 120)
    assert cons.getProposal(late).call()[-1] == EXPIRED
    gov.reverts(cons.vote(late), gov.admins[1], "ProposalExpired(uint256)", late)
    gov.vote(in_time, gov.admins[1])
    assert cons.isActiveMember(candidate).call()


def test_suspended_admin_cannot_vote(gov: Gov) -> None:
    suspended = gov.admins[2]
    gov.passed(SUSPEND, suspended)
    assert gov.consortium.functions.adminCount().call() == 2
    proposal_id = gov.propose_admit(gov.admins[0], gov.candidates[0])
    vote = gov.consortium.functions.vote(proposal_id)
    gov.reverts(vote, suspended, "NotAdmin(address)", suspended)


def test_admins_cannot_fall_below_the_threshold(gov: Gov) -> None:
    cons = gov.consortium.functions
    gov.passed(REMOVE, gov.admins[2])
    assert cons.adminCount().call() == 2
    for action in (SUSPEND, REMOVE):
        gov.reverts(
            cons.propose(action, gov.admins[1], "", "", b""),
            gov.admins[0],
            "InvalidThreshold(uint256,uint256)",
            2,
            1,
        )


# --- suspension, reinstatement, removal -------------------------------------------------------


def test_suspended_member_anchor_reverts_with_custom_error(gov: Gov) -> None:
    member = _admitted(gov, gov.candidates[0])
    gov.anchor(member, b"before")
    receipt = gov.passed(SUSPEND, member)
    (changed,) = gov.events("MemberStatusChanged", receipt)
    assert (changed.args.member, changed.args.previous, changed.args.status) == (
        member,
        M_ACTIVE,
        M_SUSPENDED,
    )
    fn = gov.registry.functions.anchorBatch(b"\x01" * 32, 1, ZERO)
    with pytest.raises((ContractCustomError, TransactionFailed)) as info:
        fn.transact({"from": member})
    data = revert_data(info.value)
    assert data[:4] == keccak(text="NotActiveMember(address)")[:4]
    assert data[4:] == bytes(12) + bytes.fromhex(member[2:])


def test_reinstated_member_anchors_again(gov: Gov) -> None:
    member = _admitted(gov, gov.candidates[0])
    gov.passed(SUSPEND, member)
    receipt = gov.passed(REINSTATE, member)
    (changed,) = gov.events("MemberStatusChanged", receipt)
    assert (changed.args.previous, changed.args.status) == (M_SUSPENDED, M_ACTIVE)
    assert gov.anchor(member, b"after").status == 1


def test_removed_member_is_final(gov: Gov) -> None:
    cons = gov.consortium.functions
    member = _admitted(gov, gov.candidates[0])
    gov.passed(REMOVE, member)
    assert cons.memberStatus(member).call() == M_REMOVED
    gov.reverts(
        gov.registry.functions.anchorBatch(b"\x01" * 32, 1, ZERO),
        member,
        "NotActiveMember(address)",
        member,
    )
    invalid = "InvalidAction(uint8,address,uint8)"
    for action in (REINSTATE, SUSPEND, REMOVE, GRANT_AUDITOR):
        fn = cons.propose(action, member, "", "", b"")
        gov.reverts(fn, gov.admins[0], invalid, action, member, M_REMOVED)
    fn = cons.propose(ADMIT, member, "Back", "", pubkey(member))
    gov.reverts(fn, gov.admins[0], invalid, ADMIT, member, M_REMOVED)


def test_status_changes_need_a_fitting_status(gov: Gov) -> None:
    cons = gov.consortium.functions
    member = _admitted(gov, gov.candidates[0])
    stranger = gov.candidates[1]
    invalid = "InvalidAction(uint8,address,uint8)"
    gov.reverts(cons.propose(REINSTATE, member, "", "", b""), gov.admins[0], invalid, 2, member, 1)
    gov.reverts(
        cons.propose(SUSPEND, stranger, "", "", b""), gov.admins[0], invalid, 1, stranger, 0
    )
    gov.passed(SUSPEND, member)
    gov.reverts(cons.propose(SUSPEND, member, "", "", b""), gov.admins[0], invalid, 1, member, 2)
    gov.passed(REMOVE, member)  # a suspended member can be removed
    assert cons.memberStatus(member).call() == M_REMOVED


# --- roles ------------------------------------------------------------------------------------


def test_auditor_and_regulator_roles_are_granted_by_votes(gov: Gov) -> None:
    cons = gov.consortium.functions
    auditor = _admitted(gov, gov.candidates[0])
    regulator = _admitted(gov, gov.candidates[1])
    proposal_id = gov.propose(gov.admins[0], GRANT_AUDITOR, auditor)
    assert not cons.hasRole(auditor, AUDITOR).call()
    receipt = gov.vote(proposal_id, gov.admins[2])
    (granted,) = gov.events("RoleGranted", receipt)
    assert (granted.args.member, granted.args.role) == (auditor, AUDITOR)
    gov.passed(GRANT_REGULATOR, regulator)

    assert cons.hasRole(auditor, AUDITOR).call() and not cons.hasRole(auditor, REGULATOR).call()
    assert cons.hasRole(regulator, REGULATOR).call() and not cons.isAdmin(regulator).call()
    assert cons.getMember(auditor).call()[1] == 1 << AUDITOR
    assert cons.getMember(regulator).call()[1] == 1 << REGULATOR
    gov.reverts(
        cons.propose(GRANT_AUDITOR, auditor, "", "", b""),
        gov.admins[0],
        "InvalidAction(uint8,address,uint8)",
        GRANT_AUDITOR,
        auditor,
        M_ACTIVE,
    )


def test_roles_lapse_while_suspended_and_can_be_revoked(gov: Gov) -> None:
    cons = gov.consortium.functions
    auditor = _admitted(gov, gov.candidates[0])
    gov.passed(GRANT_AUDITOR, auditor)
    gov.passed(SUSPEND, auditor)
    assert not cons.hasRole(auditor, AUDITOR).call()
    gov.passed(REINSTATE, auditor)
    assert cons.hasRole(auditor, AUDITOR).call()
    receipt = gov.passed(REVOKE_AUDITOR, auditor)
    (revoked,) = gov.events("RoleRevoked", receipt)
    assert (revoked.args.member, revoked.args.role) == (auditor, AUDITOR)
    assert not cons.hasRole(auditor, AUDITOR).call()
    assert cons.getMember(auditor).call()[1] == 0


# --- listing ----------------------------------------------------------------------------------


def test_members_are_listed_by_index_whatever_their_status(gov: Gov) -> None:
    cons = gov.consortium.functions
    first = _admitted(gov, gov.candidates[0])
    second = _admitted(gov, gov.candidates[1])
    gov.passed(REMOVE, first)
    count = cons.memberCount().call()
    listed = [cons.memberAt(i).call() for i in range(count)]
    assert listed == [*gov.admins, first, second]
    assert [cons.memberStatus(a).call() for a in listed] == [M_ACTIVE] * 3 + [M_REMOVED, M_ACTIVE]
    assert_reverts(
        lambda: cons.memberAt(count).call(), "IndexOutOfRange(uint256,uint256)", count, count
    )


# --- the consortium's contracts -----------------------------------------------------------


def test_founding_registers_the_deploy_list_and_finishes_the_deployment(gov: Gov) -> None:
    cons = gov.consortium.functions
    assert cons.contractCount().call() == len(DEPLOY_LIST)
    assert [cons.contractNameAt(i).call() for i in range(len(DEPLOY_LIST))] == [
        contract_name(n) for n in DEPLOY_LIST
    ]
    name = contract_name("RecordRegistry")
    assert cons.contractAddress(name).call() == gov.registry.address
    assert cons.contractName(gov.registry.address).call() == name
    assert cons.contractName(gov.admins[0]).call() == ZERO
    assert cons.deploymentFinished().call() and cons.deployer().call() == gov.admins[0]
    registered = gov.consortium.events.ContractSet.get_logs(from_block=0)
    assert [r.args.name for r in registered] == [contract_name(n) for n in DEPLOY_LIST]
    assert (registered[0].args.previous, registered[0].args.account) == (
        NOBODY,
        gov.registry.address,
    )
    (finished,) = gov.consortium.events.DeploymentFinished.get_logs(from_block=0)
    assert finished.args.deployer == gov.admins[0]


def test_deployer_registers_contracts_only_until_it_finishes(
    gov: Gov, compiled: dict[str, dict]
) -> None:
    deployer, admin = gov.admins[0], gov.admins[1]
    fresh = deploy(gov.w3, compiled["Consortium"], *founders(*gov.admins), 2, sender=deployer)
    registry = deploy(gov.w3, compiled["RecordRegistry"], fresh.address, sender=deployer)
    name = contract_name("RecordRegistry")
    register = fresh.functions.registerContract(name, registry.address)
    gov.reverts(register, admin, "NotDeployer(address)", admin)
    no_code = fresh.functions.registerContract(name, admin)
    gov.reverts(no_code, deployer, "InvalidContract(bytes32,address)", name, admin)
    gov.send(register, deployer)
    gov.send(fresh.functions.finishDeployment(), deployer)
    assert fresh.functions.contractAddress(name).call() == registry.address
    for fn in (register, fresh.functions.finishDeployment()):
        gov.reverts(fn, deployer, "DeploymentAlreadyFinished()")
    late = gov.consortium.functions.registerContract(contract_name("Late"), registry.address)
    gov.reverts(late, gov.admins[0], "DeploymentAlreadyFinished()")


def test_contracts_change_by_m_of_n_vote(gov: Gov, relay_artefact: dict) -> None:
    cons = gov.consortium.functions
    first = deploy(gov.w3, relay_artefact, sender=gov.admins[0])
    second = deploy(gov.w3, relay_artefact, sender=gov.admins[0])
    notary = contract_name("Notary")

    receipt = gov.send(cons.proposeContract(notary, first.address), gov.admins[0])
    (created,) = gov.events("ProposalCreated", receipt)
    proposal_id = created.args.id
    assert (created.args.action, created.args.subject) == (SET_CONTRACT, first.address)
    assert cons.getProposedContract(proposal_id).call() == notary
    assert cons.contractAddress(notary).call() == NOBODY  # one vote of two
    receipt = gov.vote(proposal_id, gov.admins[1])
    (event,) = gov.events("ContractSet", receipt)
    assert (event.args.name, event.args.previous, event.args.account) == (
        notary,
        NOBODY,
        first.address,
    )
    assert cons.contractName(first.address).call() == notary

    receipt = gov.vote(gov.propose_contract(notary, second.address), gov.admins[2])
    (event,) = gov.events("ContractSet", receipt)
    assert (event.args.previous, event.args.account) == (first.address, second.address)
    assert cons.contractName(first.address).call() == ZERO
    assert cons.contractAddress(notary).call() == second.address

    gov.vote(gov.propose_contract(notary, NOBODY), gov.admins[1])
    assert cons.contractAddress(notary).call() == NOBODY
    assert cons.contractName(second.address).call() == ZERO
    assert cons.contractCount().call() == len(DEPLOY_LIST) + 1  # a name, once listed, stays


def test_invalid_contract_changes_are_refused(gov: Gov, relay_artefact: dict) -> None:
    cons = gov.consortium.functions
    relay = deploy(gov.w3, relay_artefact, sender=gov.admins[0])
    notary, reports = contract_name("Notary"), contract_name("Reports")
    invalid = "InvalidContract(bytes32,address)"
    admin = gov.admins[0]
    for name, account in (
        (notary, gov.admins[1]),  # no code
        (ZERO, relay.address),  # no name
        (notary, gov.registry.address),  # already named RecordRegistry
        (notary, gov.consortium.address),  # the Consortium itself
        (notary, NOBODY),  # unregistering a name no contract has
    ):
        gov.reverts(cons.proposeContract(name, account), admin, invalid, name, account)
    generic = cons.propose(SET_CONTRACT, relay.address, "", "", b"")
    gov.reverts(
        generic, admin, "InvalidAction(uint8,address,uint8)", SET_CONTRACT, relay.address, 0
    )
    member = _admitted(gov, gov.candidates[0])
    gov.reverts(cons.proposeContract(notary, relay.address), member, "NotAdmin(address)", member)

    # two proposals naming the same contract: the second cannot be carried out after the first
    as_notary = gov.propose_contract(notary, relay.address)
    as_reports = gov.propose_contract(reports, relay.address)
    gov.vote(as_notary, gov.admins[1])
    gov.reverts(cons.vote(as_reports), gov.admins[1], invalid, reports, relay.address)
    assert cons.contractAddress(reports).call() == NOBODY


# --- cost -------------------------------------------------------------------------------------


def test_governance_gas_stays_bounded(gov: Gov, compiled: dict[str, dict]) -> None:
    """Three-of-three, so that a vote that does not execute is measured too."""
    admins = gov.admins
    cons = deploy(gov.w3, compiled["Consortium"], *founders(*admins), 3, sender=admins[0])
    g = Gov(gov.w3, cons, gov.registry, admins, gov.candidates)
    candidate = gov.candidates[0]
    fn = cons.functions.propose(
        ADMIT, candidate, "Candidate Lender", "http://127.0.0.1:8799", pubkey(candidate)
    )
    gas = {
        "propose admit": g.send(fn, admins[0]).gasUsed,
        "vote": g.vote(1, admins[1]).gasUsed,
        "vote that executes admit": g.vote(1, admins[2]).gasUsed,
        "propose suspend": g.send(
            cons.functions.propose(SUSPEND, candidate, "", "", b""), admins[0]
        ).gasUsed,
    }
    g.vote(2, admins[1])
    gas["vote that executes suspend"] = g.vote(2, admins[2]).gasUsed
    print(gas)
    assert gas["propose admit"] < 300_000
    assert gas["vote"] < 70_000
    assert gas["vote that executes admit"] < 300_000
    assert gas["propose suspend"] < 130_000
    assert gas["vote that executes suspend"] < 90_000
