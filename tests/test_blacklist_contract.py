"""The Blacklist contract on an in-memory eth-tester chain: notice before listing, who may list
and delist, expiry to the second, and the disputed flag only from the Disputes contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from web3 import Web3
from web3.contract import Contract

from node.chain.compile import compile_contracts
from node.chain.deploy import contract_name
from tests.conftest import (
    ADMIT,
    GRANT_REGULATOR,
    REPO,
    SUSPEND,
    assert_reverts,
    deploy,
    found_on_tester,
    founder_list,
    in_memory_chain,
    node_of,
    pubkey,
)

SERIOUS_DEFAULT, FRAUD, IDENTITY_THEFT, COURT_ENFORCEMENT, LOAN_STACKING, FORGERY = range(6)
REPAID, ERROR, COURT_ORDER, DISPUTE_UPHELD, WITHDRAWN = range(5)  # Blacklist.DelistingReason
SMS, LETTER, APP, EMAIL = range(4)  # Blacklist.NoticeChannel
NONE, LISTED, DELISTED, EXPIRED = range(4)  # Blacklist.EntryStatus
SUBJECT = Web3.keccak(text="subject pseudonym 1")
OTHER_SUBJECT = Web3.keccak(text="subject pseudonym 2")
EVIDENCE = Web3.keccak(text="record commitment")
TEXT = Web3.keccak(text="notice text")
YEAR = 365 * 24 * 3600


@dataclass
class Bl:
    """One founding admin (M = 1), two lenders and a regulator, and the deployed Blacklist."""

    w3: Web3
    consortium: Contract
    blacklist: Contract
    admin: str
    lender: str
    other: str
    regulator: str
    outsider: str

    def send(self, fn: Any, sender: str) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        assert receipt.status == 1
        return receipt

    def vote_through(self, action: int, subject: str, name: str = "", url: str = "") -> None:
        key = pubkey(subject) if action == ADMIT else b""
        fn = self.consortium.functions.propose(action, subject, name, url, key)
        self.send(fn, self.admin)  # M = 1: the proposer's own vote executes it

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest").timestamp)

    def next_tx_at(self, timestamp: int) -> None:
        """The next transaction lands in a block with this timestamp."""
        self.w3.provider.ethereum_tester.time_travel(timestamp)  # type: ignore[attr-defined]

    def notice(self, sender: str, subject: bytes = SUBJECT, bl: Contract | None = None) -> int:
        bl = bl or self.blacklist
        fn = bl.functions.registerNotice(subject, SMS, TEXT, self.now())
        (event,) = bl.events.NoticeRegistered().process_receipt(self.send(fn, sender))
        return int(event.args.noticeId)

    def list(
        self, sender: str, notice_id: int, subject: bytes = SUBJECT, expires: int | None = None
    ) -> tuple[int, Any]:
        expires = expires or self.now() + 5 * YEAR
        fn = self.blacklist.functions.list(subject, SERIOUS_DEFAULT, EVIDENCE, expires, notice_id)
        receipt = self.send(fn, sender)
        (event,) = self.blacklist.events.Listed().process_receipt(receipt)
        return int(event.args.id), receipt

    def reverts(self, fn: Any, sender: str, signature: str, *args: Any) -> None:
        assert_reverts(lambda: fn.transact({"from": sender}), signature, *args)


@pytest.fixture
def bl(compiled: dict[str, dict]) -> Bl:
    w3 = in_memory_chain()
    admin, lender, other, regulator, outsider = w3.eth.accounts[:5]
    contracts = found_on_tester(w3, compiled, founder_list(admin), 1)
    b = Bl(
        w3,
        contracts["Consortium"],
        contracts["Blacklist"],
        admin,
        lender,
        other,
        regulator,
        outsider,
    )
    for i, account in enumerate((lender, other, regulator)):
        b.vote_through(ADMIT, account, f"Lender {i}", f"http://127.0.0.1:{8790 + i}")
    b.vote_through(GRANT_REGULATOR, regulator)
    return b


@pytest.fixture(scope="session")
def disputed_relay() -> dict:
    """DisputedRelay (tests/contracts): stands in for the disputes contract."""
    return compile_contracts(sources_dir=REPO / "tests" / "contracts")["DisputedRelay"]


def test_every_deploy_registers_the_blacklist_with_a_zero_lead_time(bl: Bl) -> None:
    cons = bl.consortium.functions
    assert cons.contractAddress(contract_name("Blacklist")).call() == bl.blacklist.address
    assert bl.blacklist.functions.consortium().call() == bl.consortium.address
    assert bl.blacklist.functions.noticeLeadTime().call() == 0
    assert bl.blacklist.functions.entryCount().call() == 0


def test_listing_without_a_notice_is_refused(bl: Bl) -> None:
    expires = bl.now() + YEAR
    fn = bl.blacklist.functions.list(SUBJECT, FRAUD, EVIDENCE, expires, 0)
    bl.reverts(fn, bl.lender, "NoticeRequired(uint256,bytes32)", 0, SUBJECT)
    fn = bl.blacklist.functions.list(SUBJECT, FRAUD, EVIDENCE, expires, 7)  # never issued
    bl.reverts(fn, bl.lender, "NoticeRequired(uint256,bytes32)", 7, SUBJECT)
    assert bl.blacklist.functions.entryCount().call() == 0


def test_a_notice_of_another_member_or_subject_is_refused_and_serves_one_listing(bl: Bl) -> None:
    theirs = bl.notice(bl.other)
    expires = bl.now() + YEAR
    fn = bl.blacklist.functions.list(SUBJECT, FRAUD, EVIDENCE, expires, theirs)
    bl.reverts(fn, bl.lender, "NoticeRequired(uint256,bytes32)", theirs, SUBJECT)
    about_other = bl.notice(bl.lender, OTHER_SUBJECT)
    fn = bl.blacklist.functions.list(SUBJECT, FRAUD, EVIDENCE, expires, about_other)
    bl.reverts(fn, bl.lender, "NoticeRequired(uint256,bytes32)", about_other, SUBJECT)

    mine = bl.notice(bl.lender)
    entry_id, _ = bl.list(bl.lender, mine)
    assert bl.blacklist.functions.getNotice(mine).call()[5] == entry_id
    fn = bl.blacklist.functions.list(SUBJECT, FRAUD, EVIDENCE, expires, mine)
    bl.reverts(fn, bl.lender, "NoticeUsed(uint256,uint256)", mine, entry_id)


def test_notice_lead_time_counts_from_the_notice_on_chain(bl: Bl, compiled: dict) -> None:
    lead = 3 * 24 * 3600
    slow = deploy(bl.w3, compiled["Blacklist"], bl.consortium.address, lead, sender=bl.admin)
    # back-dating the declared notice time does not shorten the lead time
    fn = slow.functions.registerNotice(SUBJECT, LETTER, TEXT, bl.now() - 30 * 24 * 3600)
    (event,) = slow.events.NoticeRegistered().process_receipt(bl.send(fn, bl.lender))
    notice_id = event.args.noticeId
    registered_at = slow.functions.getNotice(notice_id).call()[4]
    expires = registered_at + 5 * YEAR
    listing = slow.functions.list(SUBJECT, LOAN_STACKING, EVIDENCE, expires, notice_id)
    bl.next_tx_at(registered_at + lead - 1)
    usable_at = registered_at + lead
    bl.reverts(listing, bl.lender, "NoticeTooRecent(uint256,uint256)", notice_id, usable_at)
    bl.next_tx_at(usable_at)
    receipt = bl.send(listing, bl.lender)
    (listed,) = slow.events.Listed().process_receipt(receipt)
    assert listed.args.listedAt == usable_at


def test_a_notice_cannot_be_dated_in_the_future(bl: Bl) -> None:
    at = bl.now() + 10
    bl.next_tx_at(at)
    for noticed_at in (at + 1, 0):
        fn = bl.blacklist.functions.registerNotice(SUBJECT, EMAIL, TEXT, noticed_at)
        bl.reverts(fn, bl.lender, "InvalidNoticeTime(uint64,uint256)", noticed_at, at)
    assert bl.blacklist.functions.noticeCount().call() == 0


def test_listing_and_notice_events_carry_what_an_indexer_needs(bl: Bl) -> None:
    fn = bl.blacklist.functions.registerNotice(SUBJECT, APP, TEXT, bl.now())
    receipt = bl.send(fn, bl.lender)
    (notice,) = bl.blacklist.events.NoticeRegistered().process_receipt(receipt)
    assert (notice.args.member, notice.args.subjectKey, notice.args.channel) == (
        bl.lender,
        SUBJECT,
        APP,
    )
    assert notice.args.textHash == TEXT
    expires = bl.now() + 5 * YEAR
    fn = bl.blacklist.functions.list(
        SUBJECT, COURT_ENFORCEMENT, EVIDENCE, expires, notice.args.noticeId
    )
    receipt = bl.send(fn, bl.lender)
    (listed,) = bl.blacklist.events.Listed().process_receipt(receipt)
    block_time = bl.w3.eth.get_block(receipt.blockNumber).timestamp
    assert dict(listed.args) == {
        "id": 1,
        "subjectKey": SUBJECT,
        "member": bl.lender,
        "reason": COURT_ENFORCEMENT,
        "evidence": EVIDENCE,
        "listedAt": block_time,
        "expiresAt": expires,
        "noticeId": notice.args.noticeId,
    }
    # the subject and the member are topics: the index can look entries up by either
    topics = bl.blacklist.events.Listed().abi["inputs"]
    assert {i["name"] for i in topics if i["indexed"]} == {"id", "subjectKey", "member"}
    assert bl.blacklist.functions.getEntry(1).call() == [
        SUBJECT,
        bl.lender,
        COURT_ENFORCEMENT,
        EVIDENCE,
        block_time,
        expires,
        notice.args.noticeId,
        LISTED,
        False,
    ]
    assert bl.blacklist.functions.isActive(1).call()


def test_expiry_must_be_in_the_future_and_within_ten_years(bl: Bl) -> None:
    notice_id = bl.notice(bl.lender)
    at = bl.now() + 100
    bl.next_tx_at(at)
    limit = at + bl.blacklist.functions.MAX_LISTING_PERIOD().call()
    for expires in (at - 1, at, limit + 1):
        fn = bl.blacklist.functions.list(SUBJECT, FRAUD, EVIDENCE, expires, notice_id)
        bl.reverts(fn, bl.lender, "InvalidExpiry(uint64,uint256)", expires, limit)
    bl.next_tx_at(at)
    entry_id, _ = bl.list(bl.lender, notice_id, expires=limit)
    assert bl.blacklist.functions.getEntry(entry_id).call()[5] == limit


def test_two_members_list_the_same_subject_and_both_entries_stand(bl: Bl) -> None:
    first, _ = bl.list(bl.lender, bl.notice(bl.lender))
    second, _ = bl.list(bl.other, bl.notice(bl.other))
    assert (first, second) == (1, 2)
    assert bl.blacklist.functions.entryCount().call() == 2
    entries = [bl.blacklist.functions.getEntry(i).call() for i in (first, second)]
    assert [(e[0], e[1]) for e in entries] == [(SUBJECT, bl.lender), (SUBJECT, bl.other)]
    assert all(bl.blacklist.functions.isActive(i).call() for i in (first, second))
    logs = bl.blacklist.events.Listed.get_logs(
        from_block=0, argument_filters={"subjectKey": SUBJECT}
    )
    assert [log.args.member for log in logs] == [bl.lender, bl.other]


def test_only_the_lister_or_a_regulator_delists(bl: Bl) -> None:
    first, _ = bl.list(bl.lender, bl.notice(bl.lender))
    second, _ = bl.list(bl.lender, bl.notice(bl.lender))
    delist = bl.blacklist.functions.delist
    bl.reverts(
        delist(first, ERROR), bl.other, "NotAllowedToDelist(address,uint256)", bl.other, first
    )
    bl.reverts(delist(first, ERROR), bl.outsider, "NotActiveMember(address)", bl.outsider)
    assert bl.blacklist.functions.isActive(first).call()

    receipt = bl.send(delist(first, REPAID), bl.lender)
    (event,) = bl.blacklist.events.Delisted().process_receipt(receipt)
    assert dict(event.args) == {
        "id": first,
        "subjectKey": SUBJECT,
        "by": bl.lender,
        "member": bl.lender,
        "reason": REPAID,
    }
    receipt = bl.send(delist(second, COURT_ORDER), bl.regulator)
    (event,) = bl.blacklist.events.Delisted().process_receipt(receipt)
    assert (event.args.by, event.args.member, event.args.reason) == (
        bl.regulator,
        bl.lender,
        COURT_ORDER,
    )
    for entry_id in (first, second):
        assert not bl.blacklist.functions.isActive(entry_id).call()
        assert bl.blacklist.functions.getEntry(entry_id).call()[7] == DELISTED
        bl.reverts(
            delist(entry_id, ERROR),
            bl.lender,
            "EntryNotActive(uint256,uint8,uint64)",
            entry_id,
            DELISTED,
            bl.blacklist.functions.getEntry(entry_id).call()[5],
        )
    bl.reverts(delist(9, ERROR), bl.lender, "UnknownEntry(uint256)", 9)


def test_a_suspended_member_can_neither_list_nor_delist_and_its_entries_stay(bl: Bl) -> None:
    entry_id, _ = bl.list(bl.lender, bl.notice(bl.lender))
    spare = bl.notice(bl.lender)
    bl.vote_through(SUSPEND, bl.lender)

    fn = bl.blacklist.functions.list(SUBJECT, FRAUD, EVIDENCE, bl.now() + YEAR, spare)
    bl.reverts(fn, bl.lender, "NotActiveMember(address)", bl.lender)
    fn = bl.blacklist.functions.registerNotice(OTHER_SUBJECT, SMS, TEXT, bl.now())
    bl.reverts(fn, bl.lender, "NotActiveMember(address)", bl.lender)
    fn = bl.blacklist.functions.delist(entry_id, REPAID)
    bl.reverts(fn, bl.lender, "NotActiveMember(address)", bl.lender)

    assert bl.blacklist.functions.getEntry(entry_id).call()[1] == bl.lender
    assert bl.blacklist.functions.isActive(entry_id).call()


def test_expiry_at_the_exact_second_and_mark_expired_only_after(bl: Bl) -> None:
    expires = bl.now() + 1000
    entry_id, _ = bl.list(bl.lender, bl.notice(bl.lender), expires=expires)
    other_id, _ = bl.list(bl.other, bl.notice(bl.other), expires=expires)
    blf = bl.blacklist.functions

    bl.next_tx_at(expires - 1)  # blocks and calls now run at expiresAt - 1
    assert blf.isActive(entry_id).call(block_identifier="pending")
    bl.reverts(
        blf.markExpired(entry_id), bl.outsider, "NotYetExpired(uint256,uint64)", entry_id, expires
    )
    bl.next_tx_at(expires)
    assert not blf.isActive(entry_id).call(block_identifier="pending")
    # past its expiry an entry is no longer delisted, only marked expired, by anyone
    bl.reverts(
        blf.delist(other_id, REPAID),
        bl.other,
        "EntryNotActive(uint256,uint8,uint64)",
        other_id,
        LISTED,
        expires,
    )
    bl.next_tx_at(expires)
    receipt = bl.send(blf.markExpired(entry_id), bl.outsider)
    assert bl.w3.eth.get_block(receipt.blockNumber).timestamp == expires
    (event,) = bl.blacklist.events.Expired().process_receipt(receipt)
    assert dict(event.args) == {
        "id": entry_id,
        "subjectKey": SUBJECT,
        "by": bl.outsider,
        "member": bl.lender,
        "expiresAt": expires,
    }
    assert blf.getEntry(entry_id).call()[7] == EXPIRED
    bl.reverts(
        blf.markExpired(entry_id),
        bl.outsider,
        "EntryNotActive(uint256,uint8,uint64)",
        entry_id,
        EXPIRED,
        expires,
    )
    bl.reverts(
        blf.delist(entry_id, ERROR),
        bl.regulator,
        "EntryNotActive(uint256,uint8,uint64)",
        entry_id,
        EXPIRED,
        expires,
    )


def test_only_the_registered_disputes_contract_sets_the_disputed_flag(
    bl: Bl, disputed_relay: dict
) -> None:
    entry_id, _ = bl.list(bl.lender, bl.notice(bl.lender))
    relay = deploy(bl.w3, disputed_relay, sender=bl.admin)
    stranger = deploy(bl.w3, disputed_relay, sender=bl.admin)
    setter = bl.blacklist.functions.setDisputed(entry_id, True)
    for who in (bl.admin, bl.regulator, bl.lender):
        bl.reverts(setter, who, "NotDisputesContract(address)", who)
    via_relay = relay.functions.setDisputed(bl.blacklist.address, entry_id, True)
    bl.reverts(via_relay, bl.admin, "NotDisputesContract(address)", relay.address)

    # the consortium registers the relay as "Disputes" by its vote (M = 1)
    disputes = contract_name("Disputes")
    bl.send(bl.consortium.functions.proposeContract(disputes, relay.address), bl.admin)
    assert bl.consortium.functions.contractAddress(disputes).call() == relay.address
    via_stranger = stranger.functions.setDisputed(bl.blacklist.address, entry_id, True)
    bl.reverts(via_stranger, bl.admin, "NotDisputesContract(address)", stranger.address)

    receipt = bl.send(via_relay, bl.outsider)
    (event,) = bl.blacklist.events.DisputedSet().process_receipt(receipt)
    assert dict(event.args) == {
        "id": entry_id,
        "subjectKey": SUBJECT,
        "by": relay.address,
        "disputed": True,
    }
    assert bl.blacklist.functions.getEntry(entry_id).call()[8] is True
    bl.send(relay.functions.setDisputed(bl.blacklist.address, entry_id, False), bl.outsider)
    assert bl.blacklist.functions.getEntry(entry_id).call()[8] is False
    unknown = relay.functions.setDisputed(bl.blacklist.address, 9, True)
    bl.reverts(unknown, bl.admin, "UnknownEntry(uint256)", 9)


def test_a_node_indexes_the_blacklist_events_it_deployed(node_client: Any) -> None:
    node = node_of(node_client)
    client = node.chain.client
    blacklist = client.contract(node.chain.addresses["Blacklist"], node.chain.abis["Blacklist"])
    now = int(client.w3.eth.get_block("latest").timestamp)
    for fn in (
        blacklist.functions.registerNotice(SUBJECT, LETTER, TEXT, now),
        blacklist.functions.list(SUBJECT, FORGERY, EVIDENCE, now + YEAR, 1),
    ):
        receipt = client.wait_receipt(client.send(fn, gas=500_000), timeout=60)
        assert receipt is not None and receipt["status"] == 1
    assert node.index.catch_up(timeout=60)
    rows = [row for row in node.index.rows() if row[5] == "Blacklist"]
    assert [row[7] for row in rows] == ["NoticeRegistered", "Listed"]
