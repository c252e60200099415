"""Taking records in: validate, pseudonymise, commit, encrypt, store as pending.

The batcher (node/anchoring) takes the pending commitments to the chain; this module never
talks to the chain. One POST is one write transaction: every accepted record and its pending
commitment land together, or nothing does.
"""

import hashlib
import hmac
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Connection, Engine

from node.crypto.canonical import canonical_json
from node.crypto.commitments import commitment as make_commitment
from node.crypto.commitments import new_salt, to_hex
from node.crypto.encryption import Sealer
from node.crypto.mac import KeyedHash
from node.crypto.subjects import InvalidIdentifier, normalise, subject_key_normalised
from node.db import read_connection, write_transaction
from node.errors import DomainError
from node.keys.store import NodeSecrets
from node.records.rejections import holds_resident_id, rejection, validation_rejection
from node.records.schemas import RecordIn

_RECORD = TypeAdapter(RecordIn)
_RECORDS = TypeAdapter(list[RecordIn])
MAX_RECORDS_PER_SUBMISSION = 10_000


class RecordsError(DomainError):
    """A refusal of the records domain."""


class RecordNotFound(RecordsError):
    """No record with that id (or that version) is held by this node."""

    code, status, detail = "record_not_found", 404, "no such record"


class SubmissionNotFound(RecordsError):
    """No submission with that id."""

    code, status, detail = "submission_not_found", 404, "no such submission"


@dataclass(frozen=True)
class RecordKeys:
    """Keys the records domain uses, derived once from the node's secrets."""

    sealer: Sealer
    consortium_secret: bytes
    dedup: KeyedHash

    @classmethod
    def from_secrets(cls, s: NodeSecrets) -> "RecordKeys":
        return cls.from_keys(s.master_key, s.consortium_secret)

    @classmethod
    def from_keys(cls, master_key: bytes, consortium_secret: bytes) -> "RecordKeys":
        dedup = hmac.new(master_key, b"creditchain/record-dedup/v1", hashlib.sha256).digest()
        return cls(Sealer(master_key), consortium_secret, KeyedHash(dedup))


class Sealed(NamedTuple):
    """One valid record, committed and encrypted, ready to store (picklable, so a worker
    process can do this part of the work)."""

    position: int  # in the submission
    record_id: str
    subject_key: str
    kind: str
    event_date: str
    mac: bytes
    commitment: bytes
    wrapped_key: bytes
    ciphertext: bytes


class InvalidSubmission(RecordsError):
    """The body as a whole is unusable: not JSON, not {"records": [...]}, too many records."""

    code, status = "invalid_body", 422

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail, field, detail=detail, field=field)


def committed_form(rec: RecordIn, skey: str) -> dict[str, Any]:
    """The record as committed and shared: the subject's pseudonym, never the identifier."""
    out: dict[str, Any] = {
        "record_id": rec.record_id,
        "subject_key": skey,
        "subject_type": rec.subject.type,
        "kind": rec.kind.value,
        "account_id": rec.account_id,
        "event_date": rec.event_date.isoformat(),
        "currency": rec.currency,
    }
    for name in (
        "amount_cents",
        "credit_limit_cents",
        "balance_cents",
        "days_past_due",
        "payment_history_24m",
    ):
        value = getattr(rec, name)
        if value is not None:
            out[name] = value
    for name in ("date_of_first_delinquency", "notice_date"):
        value = getattr(rec, name)
        if value is not None:
            out[name] = value.isoformat()
    return out


def prepare(
    raw: Any, index: int, keys: RecordKeys, rec: RecordIn | None = None
) -> Sealed | dict[str, Any]:
    """Validate, pseudonymise, commit and encrypt one submitted record (`rec`: the record
    already validated); a rejection dict names the field at fault."""
    if rec is None:
        if not isinstance(raw, dict):
            return rejection(raw, None, "each record must be a JSON object")
        try:
            rec = _RECORD.validate_python(raw)
        except ValidationError as err:
            return validation_rejection(raw, err)
    for name in ("record_id", "account_id"):
        if holds_resident_id(getattr(rec, name)):
            return rejection(
                raw, name, "must not hold a resident ID number; use the member's own id"
            )
    try:
        id_number = normalise(rec.subject.type, rec.subject.id_number)
    except InvalidIdentifier as err:
        return rejection(raw, "subject.id_number", str(err))
    skey = subject_key_normalised(keys.consortium_secret, rec.subject.type, id_number)
    canonical = canonical_json(committed_form(rec, skey))
    identity = {"type": rec.subject.type, "id_number": id_number}
    if rec.subject.name is not None:
        identity["name"] = rec.subject.name
    salt = new_salt()
    com = make_commitment(salt, canonical)
    plaintext = orjson.dumps({"c": canonical.decode(), "s": salt.hex(), "i": identity})
    wrapped, ct = keys.sealer.seal(plaintext, com)  # bound to its row by the commitment
    return Sealed(
        index,
        rec.record_id,
        skey,
        rec.kind.value,
        rec.event_date.isoformat(),
        keys.dedup.digest(canonical),
        com,
        wrapped,
        ct,
    )


def _current_versions(conn: Connection, record_ids: list[str]) -> dict[str, tuple]:
    """record_id -> (row id, version, content mac, commitment) of its current version."""
    rows = conn.exec_driver_sql(
        "SELECT record_id, id, version, content_mac, commitment FROM record "
        "WHERE is_current = 1 AND record_id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(record_ids).decode(),),
    )
    return {rid: (row_id, version, mac, com) for rid, row_id, version, mac, com in rows}


_INSERT = (
    "INSERT INTO record (id, record_id, version, is_current, subject_key, kind, event_date, "
    "commitment, content_mac, wrapped_key, ciphertext, chain_status, "
    "submission_id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,'active',?,?)"
)


def parse_submission(body: bytes) -> list[Any]:
    """The records of a POST body; InvalidSubmission if the body as a whole is unusable."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidSubmission("body is not valid JSON") from None
    if not isinstance(data, dict) or set(data) != {"records"}:
        raise InvalidSubmission('body must be {"records": [...]} and nothing else', "records")
    records = data["records"]
    if not isinstance(records, list) or not records:
        raise InvalidSubmission("records must be a non-empty list", "records")
    if len(records) > MAX_RECORDS_PER_SUBMISSION:
        raise InvalidSubmission(
            f"at most {MAX_RECORDS_PER_SUBMISSION} records per submission", "records"
        )
    return records


def prepare_submission(records: list[Any], keys: RecordKeys) -> list[Sealed | dict[str, Any]]:
    """Per record: Sealed, or a rejection naming the field. Pure CPU work, no store. A
    record_id accepted earlier in the same submission is refused: one record, once."""
    try:  # one call for the whole list; per record only when something is wrong
        models: list[RecordIn | None] = list(_RECORDS.validate_python(records))
    except ValidationError:
        models = [None] * len(records)
    pairs = enumerate(zip(records, models, strict=True))
    prepared = [prepare(raw, i, keys, rec) for i, (raw, rec) in pairs]
    first: dict[str, int] = {}  # record_id -> where it was first accepted in this submission
    for i, p in enumerate(prepared):
        if isinstance(p, Sealed):
            seen = first.setdefault(p.record_id, i)
            if seen != i:
                detail = f"record_id repeats record {seen} of this submission (counting from 0)"
                prepared[i] = rejection(records[i], "record_id", detail)
    return prepared


def submit_records(*, engine: Engine, keys: RecordKeys, records: list[Any]) -> dict[str, Any]:
    """Take one submission in this process: answer per record, store the accepted ones."""
    return store_submission(engine=engine, prepared=prepare_submission(records, keys))


def store_submission(*, engine: Engine, prepared: list[Sealed | dict[str, Any]]) -> dict[str, Any]:
    """Store a prepared submission as pending, in one transaction: new records, corrections
    (a new version; the old one to be superseded on chain) and no-ops (same content)."""
    results: list[dict[str, Any] | None] = [None if isinstance(p, Sealed) else p for p in prepared]
    sealed = [p for p in prepared if isinstance(p, Sealed)]
    submission_id = "sub_" + uuid.uuid4().hex
    now = time.time()
    with write_transaction(engine) as conn:
        current = _current_versions(conn, list({p.record_id for p in sealed}))
        next_id = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM record").scalar_one() + 1
        rows: list[tuple] = []
        retired: list[int] = []  # rows that stop being current
        supersede: list[tuple[int, int]] = []
        fresh: set[str] = set()  # prepare_submission lets each record_id through once
        for p in sealed:
            if p.record_id in fresh:
                raise ValueError("a record_id twice in one prepared submission")
            fresh.add(p.record_id)
            head = current.get(p.record_id)
            if head is not None and hmac.compare_digest(head[2], p.mac):
                results[p.position] = {
                    "status": "accepted",
                    "record_id": p.record_id,
                    "commitment": to_hex(head[3]),
                    "version": head[1],
                }
                continue
            version = head[1] + 1 if head else 1
            row_id = next_id
            next_id += 1
            if head is not None:
                retired.append(head[0])
                supersede.append((head[0], row_id))
            rows.append(
                (row_id, p.record_id, version, 1, p.subject_key, p.kind, p.event_date,
                 p.commitment, p.mac, p.wrapped_key, p.ciphertext, submission_id, now)
            )  # fmt: skip
            results[p.position] = {
                "status": "accepted",
                "record_id": p.record_id,
                "commitment": to_hex(p.commitment),
                "version": version,
            }
        if retired:
            conn.exec_driver_sql(
                "UPDATE record SET is_current = 0 WHERE id = ?", [(r,) for r in retired]
            )
        if rows:
            conn.exec_driver_sql(_INSERT, rows)
        if supersede:
            conn.exec_driver_sql(
                "INSERT INTO supersession (old_row, new_row, state) VALUES (?, ?, 'pending')",
                supersede,
            )
        accepted = sum(1 for r in results if r and r["status"] == "accepted")
        conn.exec_driver_sql(
            "INSERT INTO submission (id, created_at, accepted, rejected, results) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                submission_id,
                now,
                accepted,
                len(results) - accepted,
                zlib.compress(orjson.dumps(results), 1),
            ),
        )
    return {
        "submission_id": submission_id,
        "accepted": accepted,
        "rejected": len(results) - accepted,
        "results": results,
    }


def get_submission(*, engine: Engine, submission_id: str) -> dict[str, Any]:
    """A past submission's per-record results; SubmissionNotFound if there is none."""
    with read_connection(engine) as conn:
        row = conn.exec_driver_sql(
            "SELECT created_at, accepted, rejected, results FROM submission WHERE id = ?",
            (submission_id,),
        ).first()
    if row is None:
        raise SubmissionNotFound(submission_id)
    return {
        "submission_id": submission_id,
        "created_at": row[0],
        "accepted": row[1],
        "rejected": row[2],
        "results": orjson.loads(zlib.decompress(row[3])),
    }


class NotAnchored(RecordsError):
    """The record's commitment is not yet confirmed on chain; no receipt exists yet."""

    code, status = "not_anchored", 409

    def __init__(self, state: str) -> None:
        detail = f"record is {state}; its receipt exists once its batch is anchored"
        super().__init__(state, detail=detail)
        self.state = state

    def context(self) -> dict[str, Any]:
        return {"state": self.state}


_SELECT_VERSION = (
    "SELECT r.id, r.record_id, r.version, r.commitment, r.wrapped_key, r.ciphertext, "
    "r.chain_status, b.id AS batch_id, r.id - b.first_row AS leaf_index, b.state, b.size, "
    "b.root, b.chain_batch_id, b.tx_hash, b.block_number, "
    "(SELECT MAX(version) FROM record WHERE record_id = r.record_id) AS versions "
    "FROM record r LEFT JOIN batch b ON b.id = ("
    "  SELECT id FROM batch WHERE last_row >= r.id AND first_row <= r.id "
    "  ORDER BY last_row LIMIT 1) "
    "WHERE r.record_id = ? "
)


def _load(engine: Engine, record_id: str, version: int | None) -> Any:
    with read_connection(engine) as conn:
        if version is None:
            row = conn.exec_driver_sql(_SELECT_VERSION + "AND r.is_current = 1", (record_id,))
        else:
            row = conn.exec_driver_sql(_SELECT_VERSION + "AND r.version = ?", (record_id, version))
        found = row.first()
    if found is None:
        raise RecordNotFound(record_id)
    return found


def _open(keys: RecordKeys, row: Any) -> dict[str, Any]:
    plaintext = keys.sealer.open(row.wrapped_key, row.ciphertext, row.commitment)
    return orjson.loads(plaintext)


def _state(row: Any) -> str:
    if row.batch_id is None:
        return "pending"
    return "anchored" if row.state == "confirmed" else "pending"


def get_record(
    *, engine: Engine, keys: RecordKeys, record_id: str, version: int | None = None
) -> dict[str, Any]:
    """The committed record (its pseudonym, never the identifier) and where it stands."""
    row = _load(engine, record_id, version)
    sealed = _open(keys, row)
    return {
        "record_id": row.record_id,
        "version": row.version,
        "versions": row.versions,
        "state": _state(row),
        "chain_status": row.chain_status,
        "commitment": to_hex(row.commitment),
        "record": orjson.loads(sealed["c"]),
    }


def get_receipt(
    *,
    engine: Engine,
    keys: RecordKeys,
    record_id: str,
    chain_id: int,
    registry: str,
    version: int | None = None,
) -> dict[str, Any]:
    """The protocol's receipt: everything a stranger needs to check the record on chain."""
    from node.anchoring.proofs import inclusion_path

    row = _load(engine, record_id, version)
    state = _state(row)
    if state != "anchored":
        detail = "queued" if row.batch_id is None else f"batch {row.state}"
        raise NotAnchored(f"pending ({detail})")
    sealed = _open(keys, row)
    proof = inclusion_path(
        engine,
        batch_id=row.batch_id,
        size=row.size,
        index=row.leaf_index,
        entry=row.commitment,
        root=row.root,
    )
    return {
        "version": 1,
        "record": orjson.loads(sealed["c"]),
        "salt": "0x" + sealed["s"],
        "commitment": to_hex(row.commitment),
        "batch_id": row.chain_batch_id,
        "leaf_index": row.leaf_index,
        "tree_size": row.size,
        "proof": [to_hex(h) for h in proof],
        "root": to_hex(row.root),
        "chain_id": chain_id,
        "registry": registry,
        "tx_hash": row.tx_hash,
        "block_number": row.block_number,
    }


def counts(*, engine: Engine) -> dict[str, int]:
    """How many record versions wait for the chain and how many are anchored (cheap: indexed)."""
    with read_connection(engine) as conn:
        queued = conn.exec_driver_sql(
            "SELECT COALESCE(MAX(id), 0) - (SELECT COALESCE(MAX(last_row), 0) FROM batch) "
            "FROM record"
        ).scalar_one()
        in_flight, anchored, batches = conn.exec_driver_sql(
            "SELECT COALESCE(SUM(CASE WHEN state != 'confirmed' THEN size END), 0), "
            "COALESCE(SUM(CASE WHEN state = 'confirmed' THEN size END), 0), COUNT(*) FROM batch"
        ).one()
    return {"pending": queued + in_flight, "anchored": anchored, "batches": batches}
