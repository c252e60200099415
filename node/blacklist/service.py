"""The blacklist's services: notices and listings sent to the Blacklist contract with this
member's key, and reads from the derived table (projection.py) and the event index.

A refusal the contract would make is found by the eth_call before any transaction is sent
and answered as a named refusal (errors.REFUSALS). After its own write the node brings its
index up to the chain, so its next reads show the change.
"""

import datetime as dt
import hashlib
import logging
from typing import Any

from sqlalchemy.engine import Engine
from web3.contract import Contract

from node.blacklist import errors
from node.blacklist.checks import check_applicants, parse_applicants
from node.blacklist.models import CHANNELS, DELIST_REASONS, REASONS
from node.blacklist.projection import CONTRACT
from node.chain.client import ContractRevert
from node.chain.events import Event
from node.chain.index import EventIndex
from node.chain.setup import Chain
from node.crypto.subjects import InvalidIdentifier, subject_key
from node.db import read_connection
from node.records.errors import RecordNotFound
from node.records.reads import load_version

__all__ = [
    "check_applicants", "delist", "entries_for_subject", "evidence_of", "expiry_of",
    "get_entry", "list_subject", "listing_counts", "notices_for_subject", "parse_applicants",
    "register_notice", "subject_key_of",
]  # fmt: skip

log = logging.getLogger("creditchain.blacklist")
WRITE_GAS = 500_000
_PUBLIC = ("id, subject_key, member, reason, evidence, listed_at, expires_at, notice_id, "
           "status, disputed, ended_by, end_reason, block_number")  # fmt: skip


def blacklist_contract(chain: Chain) -> Contract:
    return chain.client.contract(chain.addresses[CONTRACT], chain.abis[CONTRACT])


def subject_key_of(secret: bytes, subject_type: str, id_number: str) -> bytes:
    """The subject's pseudonym; a bad identifier is refused naming the field, not the value."""
    try:
        return bytes.fromhex(subject_key(secret, subject_type, id_number)[2:])
    except InvalidIdentifier as err:
        raise errors.InvalidSubject("identifier", detail=str(err)) from None


def _refused(err: ContractRevert) -> errors.BlacklistRefused:
    known = errors.REFUSALS.get(err.name)
    if known is not None:
        return known(err.name)
    return errors.BlacklistRefused(err.name, detail=f"the contract refused: {err.name}")


def _transact(chain: Chain, fn: Any) -> dict[str, Any]:
    """Send `fn` as this member; its receipt, or a named refusal."""
    try:
        with chain.client.lock:  # these writes are rare: the nonce is read from the chain,
            chain.client.reset_nonce()  # in case a reorg dropped one of this member's own
            tx_hash = chain.client.send(fn, gas=WRITE_GAS)
    except ContractRevert as err:
        raise _refused(err) from None
    receipt = chain.client.wait_receipt(tx_hash, timeout=60)
    if receipt is None or receipt["status"] != 1:
        chain.client.reset_nonce()
        raise errors.NotMined(tx_hash)
    return receipt


def _events(index: EventIndex, receipt: dict[str, Any], name: str) -> list[Event]:
    """The node's own write's events of `name`; then the index is brought up to the chain."""
    found = [e for e in index.reader.decode_receipt(receipt) if e.event == name]
    try:
        index.catch_up(timeout=10)
    except Exception as err:  # the follower thread will get there; answer anyway
        log.info("index not caught up after a write: %s", type(err).__name__)
    return found


def _latest_time(chain: Chain) -> int:
    with chain.client.lock:
        return int(chain.client.w3.eth.get_block("latest")["timestamp"])


def register_notice(
    *, chain: Chain, index: EventIndex, key: bytes, channel: str, text: str,
    noticed_at: int | None,
) -> dict[str, Any]:  # fmt: skip
    """Register on chain that this member gave the borrower `key` notice of a coming listing:
    only the hash of the text goes there; the text itself is not kept by the node."""
    text_hash = hashlib.sha256(text.encode()).digest()
    when = _latest_time(chain) if noticed_at is None else noticed_at
    fn = blacklist_contract(chain).functions.registerNotice(
        key, CHANNELS.index(channel), text_hash, when
    )
    receipt = _transact(chain, fn)
    (event,) = _events(index, receipt, "NoticeRegistered")
    return _notice(event) | {"tx_hash": event.tx_hash}


def _notice(e: Event) -> dict[str, Any]:
    a = e.args
    return {
        "notice_id": a["noticeId"], "member": a["member"], "channel": CHANNELS[a["channel"]],
        "text_hash": a["textHash"], "noticed_at": a["noticedAt"], "registered_at": e.block_time,
        "block_number": e.block_number,
    }  # fmt: skip


def expiry_of(event_end: dt.date, years: int) -> int:
    """Midnight (UTC) of the day `years` after the adverse event ended (28 Feb for 29 Feb)."""
    if event_end.year + years > dt.MAXYEAR:
        raise errors.InvalidExpiry("past the calendar")
    try:
        day = event_end.replace(year=event_end.year + years)
    except ValueError:
        day = event_end.replace(year=event_end.year + years, day=28)
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


def _unused_notice(index: EventIndex, me: str, key: bytes) -> int:
    """This member's oldest notice to `key` that no listing has used yet."""
    snap = index.read(CONTRACT, "NoticeRegistered", "Listed", where={"subjectKey": key})
    used = {e.args["noticeId"] for e in snap.events if e.event == "Listed"}
    mine = [e.args["noticeId"] for e in snap.events
            if e.event == "NoticeRegistered" and e.args["member"] == me]  # fmt: skip
    unused = [n for n in mine if n not in used]
    if not unused:
        raise errors.NoticeRequired("no notice")
    return unused[0]


def evidence_of(engine: Engine, evidence: str | None, record_id: str | None) -> bytes:
    """The evidence commitment given, or the current commitment of our record `record_id`."""
    if evidence is not None:
        return bytes.fromhex(evidence.removeprefix("0x"))
    try:
        return bytes(load_version(engine, str(record_id), None).commitment)
    except RecordNotFound:
        raise errors.UnknownRecord("record") from None


def list_subject(
    *, chain: Chain, index: EventIndex, key: bytes, reason: str, evidence: bytes,
    expires_at: int, notice_id: int | None,
) -> dict[str, Any]:  # fmt: skip
    """List the subject `key` as this member, after its notice (`notice_id`, or else its
    oldest unused notice to the subject)."""
    if notice_id is None:
        notice_id = _unused_notice(index, chain.client.account.address, key)
    fn = blacklist_contract(chain).functions.list(
        key, REASONS.index(reason), evidence, expires_at, notice_id
    )
    receipt = _transact(chain, fn)
    (event,) = _events(index, receipt, "Listed")
    a = event.args
    return {
        "entry_id": a["id"], "subject_key": a["subjectKey"], "member": a["member"],
        "reason": reason, "evidence": a["evidence"], "listed_at": a["listedAt"],
        "expires_at": a["expiresAt"], "notice_id": a["noticeId"], "status": "listed",
        "disputed": False, "tx_hash": event.tx_hash, "block_number": event.block_number,
    }  # fmt: skip


def delist(*, chain: Chain, index: EventIndex, entry_id: int, reason: str) -> dict[str, Any]:
    """Delist entry `entry_id` as this member (its lister, or a regulator)."""
    fn = blacklist_contract(chain).functions.delist(entry_id, DELIST_REASONS.index(reason))
    receipt = _transact(chain, fn)
    (event,) = _events(index, receipt, "Delisted")
    return {"entry_id": entry_id, "status": "delisted", "reason": reason,
            "tx_hash": event.tx_hash, "block_number": event.block_number}  # fmt: skip


def _public(row: Any, now: int | None) -> dict[str, Any]:
    (entry_id, key, member, reason, evidence, listed_at, expires_at, notice_id, status,
     disputed, ended_by, end_reason, block) = row  # fmt: skip
    return {
        "entry_id": entry_id, "subject_key": "0x" + bytes(key).hex(), "member": member,
        "reason": reason, "evidence": evidence, "listed_at": listed_at,
        "expires_at": expires_at, "notice_id": notice_id, "status": status,
        "active": status == "listed" and now is not None and now < expires_at,
        "disputed": bool(disputed), "ended_by": ended_by, "end_reason": end_reason,
        "block_number": block,
    }  # fmt: skip


def _cursor(conn: Any) -> tuple[int | None, int | None]:
    row = conn.exec_driver_sql("SELECT block_number, block_time FROM blacklist_cursor").first()
    return (row[0], row[1]) if row else (None, None)


def get_entry(*, engine: Engine, entry_id: int) -> tuple[dict[str, Any], int | None]:
    """Entry `entry_id` and the block it is as of; UnknownEntry if the index has none."""
    with read_connection(engine) as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            block, now = _cursor(conn)
            sql = f"SELECT {_PUBLIC} FROM blacklist_entry WHERE id = ?"
            row = conn.exec_driver_sql(sql, (entry_id,)).first()
        finally:
            conn.exec_driver_sql("COMMIT")
    if row is None:
        raise errors.UnknownEntry(entry_id)
    return _public(row, now), block


def entries_for_subject(*, engine: Engine, subject_key: bytes | str) -> list[dict[str, Any]]:
    """Every entry about the subject, whatever its status (active says whether it matches
    now, as of the index's block), oldest first: for the borrower's own trail."""
    if isinstance(subject_key, str):
        subject_key = bytes.fromhex(subject_key.removeprefix("0x"))
    with read_connection(engine) as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            _, now = _cursor(conn)
            rows = conn.exec_driver_sql(
                f"SELECT {_PUBLIC} FROM blacklist_entry WHERE subject_key = ? ORDER BY id",
                (subject_key,),
            ).all()
        finally:
            conn.exec_driver_sql("COMMIT")
    return [_public(r, now) for r in rows]


def notices_for_subject(*, index: EventIndex, subject_key: bytes | str) -> list[dict[str, Any]]:
    """Every notice of a coming listing given to the subject, oldest first, and the entry
    each served (None while unused): for the borrower's own trail."""
    if isinstance(subject_key, str):
        subject_key = bytes.fromhex(subject_key.removeprefix("0x"))
    snap = index.read(CONTRACT, "NoticeRegistered", "Listed", where={"subjectKey": subject_key})
    served = {e.args["noticeId"]: e.args["id"] for e in snap.events if e.event == "Listed"}
    return [_notice(e) | {"entry_id": served.get(e.args["noticeId"])}
            for e in snap.events if e.event == "NoticeRegistered"]  # fmt: skip


def listing_counts(*, engine: Engine) -> tuple[list[tuple[str, str, str, bool, int]], int | None]:
    """Entries counted by listing member, reason, status, disputed flag: rows of (member,
    reason, status, disputed, count), where status "listed" past its expiry (as of the
    entries' block time) reads "lapsed"; and the block the entries stand at."""
    with read_connection(engine) as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            block, now = _cursor(conn)
            rows = conn.exec_driver_sql(
                "SELECT member, reason, CASE WHEN status = ? AND expires_at <= ? THEN 'lapsed' "
                "ELSE status END AS shown, disputed, COUNT(*) FROM blacklist_entry "
                "GROUP BY member, reason, shown, disputed ORDER BY member, reason, shown",
                ("listed", now or 0),
            ).all()
        finally:
            conn.exec_driver_sql("COMMIT")
    return [(r[0], r[1], r[2], bool(r[3]), int(r[4])) for r in rows], block
