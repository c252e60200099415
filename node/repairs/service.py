"""Repair cases: opened by this member against its own record found wrong, decided by a
regulator on chain (RepairCases), carried out by removing the record: its data keys destroyed
and its commitment marked Revoked, as retention erases (node/retention/service.py).

Accurate negative information is never removed early: a request on any ground but `error`
is refused, naming when the record's retention ends; a debt repaid is a `settled` record.
Reads of cases come from the event index.
"""

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine

from node.chain.client import ContractRevert
from node.chain.index import EventIndex
from node.chain.setup import Chain
from node.db import read_connection, write_transaction
from node.errors import DomainError
from node.records import erasure as records
from node.records.errors import RecordErased, RecordNotFound
from node.retention import service as retention
from node.retention.clock import chain_now
from node.retention.policy import Policy

CONTRACT = "RepairCases"
GAS = 300_000
STATES = ("none", "open", "approved", "refused")


class RepairRefused(DomainError):
    """A refusal of the repairs domain."""


class NoRepairCasesContract(RepairRefused):
    code, status = "no_repair_cases_contract", 409
    detail = (
        "this consortium has no RepairCases contract yet: its admins deploy one and register "
        "it by vote (Consortium.proposeContract)"
    )


class AccurateNegativeInformation(RepairRefused):
    code, status, field = "accurate_negative_information", 409, "ground"

    def __init__(self, until: str) -> None:
        super().__init__(until, detail="a repair never removes accurate information before "
                         f"its retention ends ({until}); a debt repaid is recorded as a "
                         "settled record that settles it")  # fmt: skip


class RepairCaseExists(RepairRefused):
    code, status, field = "repair_case_exists", 409, "record_id"
    detail = "the record already has a repair case, open or approved"


class NotRegulator(RepairRefused):
    code, status, detail = "not_regulator", 403, "only a regulator decides repair cases"


class UnknownCase(RepairRefused):
    code, status, detail = "repair_case_not_found", 404, "no such repair case"


class CaseNotOpen(RepairRefused):
    code, status, detail = "repair_case_decided", 409, "the case was decided already"


class NotMined(RepairRefused):
    code, status, detail = "not_mined", 503, "the transaction did not land; try again"


_REFUSALS: dict[str, type[RepairRefused]] = {
    "CaseExists": RepairCaseExists, "NotRegulator": NotRegulator,
    "UnknownCase": UnknownCase, "CaseNotOpen": CaseNotOpen,
}  # fmt: skip


def _refused(name: str) -> RepairRefused:
    return _REFUSALS[name]()


def _contract(chain: Chain) -> Any:
    if CONTRACT not in chain.addresses:
        raise NoRepairCasesContract()
    return chain.client.contract(chain.addresses[CONTRACT], chain.abis[CONTRACT])


def _send(chain: Chain, fn: Any) -> dict[str, Any]:
    try:
        tx = chain.client.send(fn, gas=GAS)
    except ContractRevert as err:
        if err.name not in _REFUSALS:
            raise
        raise _refused(err.name) from None
    receipt = chain.client.wait_receipt(tx, timeout=60)
    if receipt is None or receipt["status"] != 1:
        raise NotMined()
    return receipt


def _retention_end(engine: Engine, record_id: str) -> str:
    entries = retention.entries_of(engine=engine, record_id=record_id)
    mine = [e for e in entries if e["state"] != "erased"]
    ends = [e["expires_at"] for e in mine if e["expires_at"] is not None]
    if mine and not ends:
        return "5 years after it is settled"
    if not ends:
        return "by its schedule"
    return "on " + dt.datetime.fromtimestamp(max(ends), dt.UTC).date().isoformat()


def open_case(
    *, engine: Engine, chain: Chain, index: EventIndex, policy: Policy, record_id: str,
    ground: str, evidence: bytes,
) -> dict[str, Any]:  # fmt: skip
    """Open a case against this member's current version of `record_id`; refused unless the
    ground is `error`. Answers the case as the chain holds it."""
    with read_connection(engine) as conn:
        row = records.current_of(conn, record_id)
    if row is None:
        raise RecordNotFound(record_id)
    if row.erased:
        raise RecordErased(record_id)
    if ground != "error":
        while retention.schedule_new(engine=engine, policy=policy):
            pass
        raise AccurateNegativeInformation(_retention_end(engine, record_id))
    receipt = _send(chain, _contract(chain).functions.open(row.commitment, evidence))
    (event,) = [e for e in index.reader.decode_receipt(receipt) if e.event == "CaseOpened"]
    index.catch_up(timeout=30)
    return get_case(engine=engine, index=index, case_id=event.args["caseId"])


def decide(
    *, engine: Engine, chain: Chain, index: EventIndex, case_id: int, approve: bool,
    reason: bytes,
) -> dict[str, Any]:  # fmt: skip
    """A regulator's decision on a case, sent from this node."""
    _send(chain, _contract(chain).functions.decide(case_id, approve, reason))
    index.catch_up(timeout=30)
    return get_case(engine=engine, index=index, case_id=case_id)


def _cases(index: EventIndex, case_id: int | None = None) -> dict[int, dict[str, Any]]:
    where = {"caseId": case_id} if case_id is not None else None
    events = index.read(CONTRACT, "CaseOpened", "CaseDecided", where=where).events
    cases: dict[int, dict[str, Any]] = {}
    for e in events:
        a = e.args
        if e.event == "CaseOpened":
            cases[a["caseId"]] = {
                "case_id": a["caseId"], "member": a["member"], "commitment": a["commitment"],
                "evidence": a["evidence"], "state": "open", "opened_block": e.block_number,
                "decided_block": None, "decided_by": None,
            }  # fmt: skip
        elif a["caseId"] in cases:
            cases[a["caseId"]].update(
                state="approved" if a["approved"] else "refused",
                decided_block=e.block_number, decided_by=a["by"],
            )  # fmt: skip
    return cases


def list_cases(*, index: EventIndex, state: str | None = None) -> dict[str, Any]:
    """Every member's cases (in a state, if given), oldest first, as of the index's block:
    what a regulator's node decides from."""
    snapshot = index.read(CONTRACT)
    cases = [c for c in _cases(index).values() if state is None or c["state"] == state]
    return {"as_of_block": snapshot.as_of_block, "cases": cases}


def get_case(*, engine: Engine, index: EventIndex, case_id: int) -> dict[str, Any]:
    """A case as the event index holds it, and whether this node removed its record."""
    case = _cases(index, case_id).get(case_id)
    if case is None:
        raise UnknownCase()
    with read_connection(engine) as conn:
        version = records.record_of(conn, bytes.fromhex(case["commitment"][2:]))
        current = records.current_of(conn, version[0]) if version is not None else None
    return {**case, "removed": current is not None and current.erased}


def _unremoved(conn: Any, commitment: str) -> bool:
    found = records.record_of(conn, bytes.fromhex(commitment[2:]))
    return found is not None and any(not v.erased for v in records.versions_of(conn, found[0]))


def carry_out(*, engine: Engine, index: EventIndex, me: str, policy: Policy) -> int:
    """Remove the records of this member's approved cases not yet removed: every version's
    data key destroyed, the current commitment queued to be marked Revoked. How many."""
    approved = [c for c in _cases(index).values()
                if c["state"] == "approved" and c["member"].lower() == me.lower()]  # fmt: skip
    with read_connection(engine) as conn:  # most were carried out already: no write then
        approved = [c for c in approved if _unremoved(conn, c["commitment"])]
    if not approved:
        return 0
    while retention.schedule_new(engine=engine, policy=policy):
        pass
    done = 0
    with write_transaction(engine) as conn:
        now = chain_now(conn)
        for case in approved:
            found = records.record_of(conn, bytes.fromhex(case["commitment"][2:]))
            if found is None:
                continue
            rows = [(v.row_id, v.leaf_id) for v in records.versions_of(conn, found[0])
                    if not v.erased]  # fmt: skip
            if rows:
                retention.erase(conn, rows=rows, reason="repaired", status="revoked",
                                block=now[0] if now else None,
                                block_time=now[1] if now else None)  # fmt: skip
                done += 1
    return done
