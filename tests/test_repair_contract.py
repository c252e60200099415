"""RepairCases: a member opens a case against its record found wrong; a regulator, and only
a regulator, approves or refuses it once; where the consortium requires no approval a case
is approved as it opens. Every state is an event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from node.cli import main as cli
from tests.conftest import (
    ADMIT,
    GRANT_REGULATOR,
    assert_reverts,
    deploy,
    found_on_tester,
    founder_list,
    in_memory_chain,
    pubkey,
)

NONE, OPEN, APPROVED, REFUSED = range(4)  # RepairCases.CaseState
WRONG = Web3.keccak(text="a wrong record's commitment")
EVIDENCE = Web3.keccak(text="the evidence it is wrong")
REASON = Web3.keccak(text="the regulator's reasons")


class Kit:
    def __init__(self, compiled: dict[str, dict], approval: bool = True) -> None:
        self.w3 = in_memory_chain()
        self.admin, self.lender, self.regulator, self.outsider = self.w3.eth.accounts[:4]
        contracts = found_on_tester(self.w3, compiled, founder_list(self.admin), 1)
        self.consortium = contracts["Consortium"]
        for i, account in enumerate((self.lender, self.regulator)):
            self.vote(ADMIT, account, f"Lender {i}", f"http://127.0.0.1:{8790 + i}")
        self.vote(GRANT_REGULATOR, self.regulator)
        self.cases: Contract = (
            contracts["RepairCases"]
            if approval
            else deploy(
                self.w3, compiled["RepairCases"], self.consortium.address, False, sender=self.admin
            )  # fmt: skip
        )

    def vote(self, action: int, subject: str, name: str = "", url: str = "") -> None:
        key = pubkey(subject) if action == ADMIT else b""
        self.send(self.consortium.functions.propose(action, subject, name, url, key), self.admin)

    def send(self, fn: Any, sender: str) -> Any:
        return self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))


@pytest.fixture
def kit(compiled: dict[str, dict]) -> Kit:
    return Kit(compiled)


def test_a_case_opens_and_only_a_regulator_decides_it_once(kit: Kit) -> None:
    fns = kit.cases.functions
    assert fns.approvalRequired().call() is True
    receipt = kit.send(fns.open(WRONG, EVIDENCE), kit.lender)
    (opened,) = kit.cases.events.CaseOpened().process_receipt(receipt)
    assert (opened.args.caseId, opened.args.member, opened.args.commitment) == (
        1, kit.lender, WRONG)  # fmt: skip
    assert fns.getCase(1).call()[3] == OPEN and fns.caseOf(WRONG).call() == 1
    assert_reverts(lambda: fns.open(WRONG, EVIDENCE).transact({"from": kit.lender}),
                   "CaseExists(bytes32,uint256)", WRONG, 1)  # fmt: skip
    for someone in (kit.lender, kit.admin, kit.outsider):
        assert_reverts(lambda s=someone: fns.decide(1, True, REASON).transact({"from": s}),
                       "NotRegulator(address)", someone)  # fmt: skip
    receipt = kit.send(fns.decide(1, False, REASON), kit.regulator)
    (decided,) = kit.cases.events.CaseDecided().process_receipt(receipt)
    assert (decided.args.approved, decided.args.by, decided.args.reason) == (
        False, kit.regulator, REASON)  # fmt: skip
    assert_reverts(lambda: fns.decide(1, True, REASON).transact({"from": kit.regulator}),
                   "CaseNotOpen(uint256,uint8)", 1, REFUSED)  # fmt: skip
    kit.send(fns.open(WRONG, EVIDENCE), kit.lender)  # refused: a new case may be opened
    kit.send(fns.decide(2, True, REASON), kit.regulator)
    assert fns.getCase(2).call()[3] == APPROVED
    assert_reverts(lambda: fns.decide(3, True, REASON).transact({"from": kit.regulator}),
                   "UnknownCase(uint256)", 3)  # fmt: skip


def test_an_outsider_cannot_open_a_case_nor_anyone_with_zero_hashes(kit: Kit) -> None:
    fns = kit.cases.functions
    assert_reverts(lambda: fns.open(WRONG, EVIDENCE).transact({"from": kit.outsider}),
                   "NotActiveMember(address)", kit.outsider)  # fmt: skip
    assert_reverts(lambda: fns.open(WRONG, b"\x00" * 32).transact({"from": kit.lender}),
                   "ZeroHash()")  # fmt: skip


def test_without_required_approval_a_case_is_approved_as_it_opens(
    compiled: dict[str, dict],
) -> None:
    kit = Kit(compiled, approval=False)
    receipt = kit.send(kit.cases.functions.open(WRONG, EVIDENCE), kit.lender)
    (decided,) = kit.cases.events.CaseDecided().process_receipt(receipt, errors=DISCARD)
    assert decided.args.approved is True and decided.args.by == kit.lender
    assert kit.cases.functions.getCase(1).call()[3] == APPROVED


def test_the_founders_choose_whether_a_regulator_approves_repairs(
    anvil: str, tmp_path: Path, compiled: dict[str, dict]
) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil))
    for choice, required in (("none", False), ("regulator", True)):
        data = tmp_path / choice
        assert cli(["consortium", "found", "--rpc", anvil, "--data", str(data),
                    "--repair-approval", choice]) == 0  # fmt: skip
        address = json.loads((data / "chain.json").read_text())["contracts"]["RepairCases"]
        cases = w3.eth.contract(address=address, abi=compiled["RepairCases"]["abi"])
        assert cases.functions.approvalRequired().call() is required
