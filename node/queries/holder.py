"""Answering another member's query: check it against the local index, read the subject's
records with their receipts, log the query, answer.

Every check reads this node's store (the event index and its derived tables), never the
chain, so a node answers at the speed of its disk and keeps answering while the chain is away.
"""

import threading
import time
from typing import Any

from sqlalchemy.engine import Connection, Engine

from node.anchoring.service import LeafPending
from node.chain.index import EventIndex
from node.consents import service as consents
from node.crypto.eip712 import checksum
from node.crypto.hexutil import to_hex
from node.db import TRUE, driver_rows, read_connection, read_snapshot
from node.members.service import member_status
from node.peers.signing import MAX_SKEW, NonceBook, PeerRefused, ReplayedRequest, StaleRequest
from node.queries.log import QueryEntry, QueryLog
from node.queries.schemas import PeerQuery
from node.records.erasure import is_erased
from node.records.intake import RecordKeys
from node.records.receipts import receipt_of_row


class NotAMember(PeerRefused):
    code, status = "not_a_member", 403

    def __init__(self, member: str) -> None:
        super().__init__(member, detail=f"{member} is not a member of the consortium")


class RequesterSuspended(PeerRefused):
    code, status = "requester_suspended", 403

    def __init__(self, member: str, status: str) -> None:
        super().__init__(member, detail=f"{member} is {status}: it may not query")


def check_requester(*, index: EventIndex, address: str, conn: Connection | None = None) -> None:
    """The requester is an active member now, as the index has read the chain."""
    status = member_status(index=index, address=address, conn=conn)
    if status == "active":
        return
    if status not in ("suspended", "removed"):
        raise NotAMember(checksum(address))
    raise RequesterSuspended(checksum(address), status)


def check_fresh(conn: Connection, query: PeerQuery, nonces: NonceBook, now: float) -> None:
    """The query's own time and nonce: a copy of an answered query is refused, however it is
    signed, by the nonces seen (two copies at once) and by the query log (across restarts)."""
    if abs(now - query.issued_at) > MAX_SKEW:
        raise StaleRequest()
    if not nonces.claim(bytes.fromhex(query.nonce[2:]), now):
        raise ReplayedRequest()
    logged = driver_rows(
        conn,
        "SELECT 1 FROM query_log WHERE query_id = ? AND side = 'holder' LIMIT 1",
        (query.nonce.lower(),),
    )
    if logged:
        raise ReplayedRequest()


def check_query(
    *,
    conn: Connection,
    index: EventIndex,
    query: PeerQuery,
    requester: str,
    nonces: NonceBook,
    now: float,
) -> Any:
    """Every check of the protocol, in order, on one read transaction of the store; the
    consent that lets the query through."""
    check_requester(index=index, address=requester, conn=conn)
    check_fresh(conn, query, nonces, now)
    return consents.check_consent(
        index,
        consent_id=query.consent_id.lower(),
        subject_key=query.subject_key.lower(),
        grantee=requester,
        purpose=query.purpose,
        at=max(int(now), chain_time(conn)),
        conn=conn,
    )


def chain_time(conn: Connection) -> int:
    """The time of the newest block the index holds an event of: whatever this node's clock
    says, it is no earlier than that, so a revocation the index holds is in force."""
    rows = driver_rows(
        conn,
        "SELECT block_time FROM chain_event ORDER BY block_number DESC, log_index DESC LIMIT 1",
    )
    return int(rows[0][0] or 0) if rows else 0


_SUBJECT_RECORDS = (
    "SELECT id, record_id, commitment, wrapped_key, ciphertext, leaf_id FROM record "
    "WHERE subject_key = ? AND is_current = {true} ORDER BY id"
)


def _subject_records(conn: Connection) -> str:
    return _SUBJECT_RECORDS.format(true=TRUE[conn.dialect.name])


class ReceiptCache:
    """Receipts of anchored record versions, kept for `ttl` seconds: a version's record, salt
    and proof do not change once its batch is confirmed, and reading them (the proof from the
    batch tree, the record decrypted) is most of the work of an answer. Bounded in time, so
    that a receipt re-anchored after a deep reorg is read afresh within a minute."""

    def __init__(self, ttl: float = 60.0, size: int = 20_000) -> None:
        self.ttl, self.size = ttl, size
        self._kept: dict[int, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, row_id: int, now: float) -> dict[str, Any] | None:
        kept = self._kept.get(row_id)
        return kept[1] if kept is not None and kept[0] > now else None

    def put(self, row_id: int, receipt: dict[str, Any], now: float) -> None:
        with self._lock:
            if len(self._kept) >= self.size:
                self._kept = {k: v for k, v in self._kept.items() if v[0] > now}
                if len(self._kept) >= self.size:
                    self._kept.clear()
            self._kept[row_id] = (now + self.ttl, receipt)


def subject_receipts(
    *,
    engine: Engine,
    keys: RecordKeys,
    subject_key: str,
    chain_id: int,
    registry: str,
    cache: ReceiptCache | None = None,
    conn: Connection | None = None,
) -> tuple[list[dict[str, Any]], int, list[str]]:
    """A receipt for each current anchored record about the subject, how many are not
    anchored yet (those are not sent: nobody could check them), and the commitments of those
    erased (their data keys destroyed: nothing of them is sent). The records are listed on
    `conn` if given."""
    now = time.monotonic()
    if conn is not None:
        rows = conn.exec_driver_sql(_subject_records(conn), (subject_key,)).all()
    else:
        with read_connection(engine) as own:
            rows = own.exec_driver_sql(_subject_records(own), (subject_key,)).all()
    receipts, pending, erased = [], 0, []
    for row in rows:
        if is_erased(row):  # never from the cache: an erased record is not sent again
            erased.append(to_hex(row.commitment))
            continue
        receipt = cache.get(row.id, now) if cache is not None else None
        if receipt is None:
            try:
                receipt = receipt_of_row(
                    engine=engine, keys=keys, row=row, chain_id=chain_id, registry=registry
                )
            except LeafPending:
                pending += 1
                continue
            if cache is not None:
                cache.put(row.id, receipt, now)
        receipts.append(receipt)
    return receipts, pending, erased  # fmt: skip


def prepare_answer(
    *,
    engine: Engine,
    index: EventIndex,
    keys: RecordKeys,
    query: PeerQuery,
    requester: str,
    holder: str,
    chain_id: int,
    registry: str,
    nonces: NonceBook,
    cache: ReceiptCache | None = None,
    now: float | None = None,
) -> tuple[dict[str, Any], QueryEntry]:
    """The holder side up to the log: checks, the subject's records; the answer and the query
    log entry that must be committed before the answer leaves."""
    now = time.time() if now is None else now
    with read_snapshot(engine) as conn:  # what is checked and what is answered agree
        as_of = index.indexed_block(conn)
        consent = check_query(conn=conn, index=index, query=query, requester=requester,
                              nonces=nonces, now=now)  # fmt: skip
        records, pending, erased = subject_receipts(
            engine=engine, keys=keys, subject_key=consent.subject_key, chain_id=chain_id,
            registry=registry, cache=cache, conn=conn,
        )  # fmt: skip
    entry = QueryEntry(
        query_id=query.nonce.lower(), side="holder", subject_key=consent.subject_key,
        consent_id=consent.consent_id, purpose=query.purpose,
        requester=checksum(requester), holder=holder, at=int(now),
    )  # fmt: skip
    answer = {"holder": holder, "query_id": entry.query_id, "as_of_block": as_of,
              "records": records, "pending": pending, "erased": erased}  # fmt: skip
    return answer, entry


def answer_query(*, log: QueryLog, **prepare: Any) -> dict[str, Any]:
    """The whole holder side in the caller's thread: prepare_answer, then the query logged
    (its commit waited for) before the answer is returned."""
    answer, entry = prepare_answer(**prepare)
    log.log_now(entry)
    return answer
