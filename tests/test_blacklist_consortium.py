"""The blacklist across a three-member consortium on anvil: every node answers a check alike
after the same block, only the lister (or a regulator) delists, a suspended member cannot
list and its entries stay visible with its status, and a reorg takes a listing back out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from node.app import create_app
from node.blacklist import service
from tests.blacklist_kit import applicant, check, list_after_notice, listing, notice
from tests.conftest import authorize, make_settings, members_on_anvil, node_of, rpc, wait_for

SECRET_ENV = "CREDITCHAIN_CONSORTIUM_SECRET_FILE"


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[TestClient]]:
    """Three members' nodes on one anvil chain, sharing the consortium secret: the first
    founded the consortium alone (M = 1) and admitted the other two."""
    with members_on_anvil(tmp_path_factory.mktemp("trio"), ["m1", "m2", "m3"]) as (_, clients):
        yield clients


def _same_block(clients: list[TestClient]) -> int:
    """Every node's index read up to the chain's head; that block."""
    head = node_of(clients[0]).chain.client.block_number()
    for c in clients:
        wait_for(lambda c=c: node_of(c).index.indexed_block() == head, 30, "the index at the head")
    return head


def test_the_check_answers_identically_on_every_node_after_the_same_block(trio):  # type: ignore[no-untyped-def]
    first, second, third = trio
    by_first = list_after_notice(first, 101)
    by_second = list_after_notice(second, 101)  # another member's entry beside the first's
    list_after_notice(third, 102)
    applicants = [applicant(101), applicant(102), applicant(103),
                  {"type": "person", "id_number": "110105194912310021"}]  # fmt: skip
    head = _same_block(trio)
    answers = [check(c, applicants) for c in trio]
    assert answers[0]["as_of_block"] == head
    assert answers[1] == answers[0] and answers[2] == answers[0]
    results = answers[0]["results"]
    assert [r["result"] for r in results] == ["listed", "listed", "clear", "invalid"]
    assert [e["entry_id"] for e in results[0]["entries"]] == [
        by_first["entry_id"], by_second["entry_id"]]  # fmt: skip
    assert {e["member_name"] for e in results[0]["entries"]} == {"test member", "m2"}


def test_delisting_by_another_ordinary_member_is_refused(trio):  # type: ignore[no-untyped-def]
    first, second, _third = trio
    entry = list_after_notice(first, 111)["entry_id"]
    refused = second.post(f"/v1/blacklist/entries/{entry}/delist", json={"reason": "repaid"})
    assert refused.status_code == 403 and refused.json()["error"] == "not_allowed_to_delist"
    _same_block(trio)
    assert all(check(c, [applicant(111)])["listed"] == 1 for c in trio)

    done = first.post(f"/v1/blacklist/entries/{entry}/delist", json={"reason": "repaid"})
    assert done.status_code == 200, done.text
    _same_block(trio)
    assert all(check(c, [applicant(111)])["clear"] == 1 for c in trio)
    again = first.post(f"/v1/blacklist/entries/{entry}/delist", json={"reason": "repaid"})
    assert again.status_code == 409 and again.json()["error"] == "entry_not_active"
    assert first.get(f"/v1/blacklist/entries/{entry}").json()["end_reason"] == "repaid"


def test_a_suspended_member_cannot_list_and_its_entries_stay_with_its_status(trio):  # type: ignore[no-untyped-def]
    first, second, third = trio
    entry = list_after_notice(second, 121)["entry_id"]
    notice(second, 122)  # given before the suspension, used after it
    me = node_of(second).chain.client.account.address
    suspended = first.post("/v1/proposals", json={"action": "suspend", "subject": me})
    assert suspended.json()["state"] == "executed"
    _same_block(trio)
    try:
        refused = listing(second, 122)
        assert refused.status_code == 403 and refused.json()["error"] == "not_active_member"
        refused = second.post("/v1/blacklist/notices", json={
            "subject": applicant(123), "channel": "letter", "text": "t"})  # fmt: skip
        assert refused.status_code == 403 and refused.json()["error"] == "not_active_member"
        for c in trio:
            (found,) = check(c, [applicant(121)])["results"][0]["entries"]
            assert (found["entry_id"], found["member_status"]) == (entry, "suspended")
        assert check(third, [applicant(122)])["clear"] == 1
    finally:
        back = first.post("/v1/proposals", json={"action": "reinstate", "subject": me})
        assert back.json()["state"] == "executed"


def _derived(client: TestClient) -> list[tuple[Any, ...]]:
    with node_of(client).engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            "SELECT id, status, changed_block FROM blacklist_entry ORDER BY id")]  # fmt: skip


def _reorg(client: TestClient, anvil: str, depth: int = 1) -> None:
    """Replace the chain's last `depth` blocks by empty ones; back once the index has them."""
    rpc(anvil, "anvil_reorg", [depth, []])
    head = rpc(anvil, "eth_getBlockByNumber", ["latest", False])

    def indexed() -> bool:
        with node_of(client).engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT hash FROM chain_block WHERE number = ?", (int(head["number"], 16),)
            ).scalar() == head["hash"]  # fmt: skip

    wait_for(indexed, 30, "the reorg indexed")


def test_a_reorg_drops_a_listing_and_undoes_a_delisting_in_the_derived_table(
    anvil: str, tmp_path: Path
) -> None:
    with TestClient(create_app(make_settings(tmp_path / "data", anvil), run_batcher=False)) as c:
        authorize(c)
        node = node_of(c)
        kept = list_after_notice(c, 131)["entry_id"]
        dropped = list_after_notice(c, 132)["entry_id"]
        assert [r[:2] for r in _derived(c)] == [(kept, "listed"), (dropped, "listed")]

        _reorg(c, anvil)  # the second listing's block is replaced
        assert check(c, [applicant(132)])["clear"] == 1
        assert [r[:2] for r in _derived(c)] == [(kept, "listed")]
        assert c.get(f"/v1/blacklist/entries/{dropped}").status_code == 404
        assert service.notices_for_subject(
            index=node.index, subject_key=c.get(f"/v1/blacklist/entries/{kept}").json()[
                "subject_key"])[0]["entry_id"] == kept  # fmt: skip

        delisted = c.post(f"/v1/blacklist/entries/{kept}/delist", json={"reason": "error"})
        assert delisted.status_code == 200 and _derived(c)[0][1] == "delisted"
        _reorg(c, anvil)  # the delisting's block is replaced
        assert check(c, [applicant(131)])["listed"] == 1
        assert [r[:2] for r in _derived(c)] == [(kept, "listed")]
