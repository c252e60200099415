"""Taking records in: validate, pseudonymise, commit, encrypt, store as pending.

The commitments go to anchoring's log (node/anchoring/service.py) in the same write
transaction as the records: one POST is one transaction, every accepted record and its
pending commitment land together, or nothing does. This module never talks to the chain.
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

from node.anchoring.service import append_leaves, request_status_change
from node.crypto.canonical import canonical_json
from node.crypto.commitments import commitment as make_commitment
from node.crypto.commitments import new_salt, to_hex
from node.crypto.encryption import Sealer
from node.crypto.mac import KeyedHash
from node.crypto.subjects import InvalidIdentifier, normalise, subject_key_normalised
from node.db import TRUE, json_values, write_transaction
from node.keys.store import NodeSecrets
from node.records.errors import InvalidSubmission
from node.records.rejections import holds_resident_id, rejection, validation_rejection
from node.records.schemas import NEGATIVE_KINDS, RecordIn

_RECORD = TypeAdapter(RecordIn)
_RECORDS = TypeAdapter(list[RecordIn])
MAX_RECORDS_PER_SUBMISSION = 10_000


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
    settles: bytes | None = None  # the commitment a settled record settles


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
    if rec.settles is not None:
        out["settles"] = rec.settles
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
        bytes.fromhex(rec.settles[2:]) if rec.settles else None,
    )


class _Head(NamedTuple):
    """A record's current version, as a new submission meets it."""

    row_id: int
    version: int
    mac: bytes
    commitment: bytes
    leaf_id: int


def _current_versions(conn: Connection, record_ids: list[str]) -> dict[str, _Head]:
    """record_id -> its current version."""
    rows = conn.exec_driver_sql(
        "SELECT record_id, id, version, content_mac, commitment, leaf_id FROM record "
        f"WHERE is_current = {TRUE[conn.dialect.name]} AND record_id IN ({json_values(conn)})",
        (orjson.dumps(record_ids).decode(),),
    )
    return {rid: _Head(*rest) for rid, *rest in rows}


_INSERT = (
    "INSERT INTO record (id, record_id, version, is_current, subject_key, kind, event_date, "
    "commitment, content_mac, wrapped_key, ciphertext, submission_id, created_at, settles, "
    "leaf_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _unsettleable(conn: Connection, p: Sealed) -> str | None:
    """Why `p` cannot settle the record it names, or None: it must be this member's current
    version of a negative record about the same subject, stored before and not erased."""
    row = conn.exec_driver_sql(
        "SELECT subject_key, kind, is_current, wrapped_key IS NULL FROM record "
        "WHERE commitment = ?",
        (p.settles,),
    ).first()
    if row is None:
        return "no record of this member has that commitment (settle a record stored before)"
    if row[0] != p.subject_key:
        return "the record it settles is about another subject"
    if row[1] not in {k.value for k in NEGATIVE_KINDS}:
        return "only an overdue, default or written_off record is settled"
    if not row[2]:
        return "that version was corrected since: settle its current version"
    if row[3]:
        return "that record was erased"
    return None


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
    (a new version; the old one's leaf to be superseded on chain by the new one's) and no-ops
    (same content). Each stored version's commitment is appended to anchoring's log."""
    results: list[dict[str, Any] | None] = [None if isinstance(p, Sealed) else p for p in prepared]
    sealed = [p for p in prepared if isinstance(p, Sealed)]
    submission_id = "sub_" + uuid.uuid4().hex
    now = time.time()
    with write_transaction(engine) as conn:
        current = _current_versions(conn, list({p.record_id for p in sealed}))
        next_id = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM record").scalar_one() + 1
        rows: list[tuple] = []
        retired: list[int] = []  # rows that stop being current
        corrected: list[tuple[int, int]] = []  # (old version's leaf, index of the new row)
        fresh: set[str] = set()  # prepare_submission lets each record_id through once
        for p in sealed:
            if p.record_id in fresh:
                raise ValueError("a record_id twice in one prepared submission")
            fresh.add(p.record_id)
            head = current.get(p.record_id)
            if head is not None and hmac.compare_digest(head.mac, p.mac):
                results[p.position] = {
                    "status": "accepted",
                    "record_id": p.record_id,
                    "commitment": to_hex(head.commitment),
                    "version": head.version,
                }
                continue
            if p.settles is not None and (refused := _unsettleable(conn, p)) is not None:
                results[p.position] = {"status": "rejected", "record_id": p.record_id,
                                       "field": "settles", "detail": refused}  # fmt: skip
                continue
            version = head.version + 1 if head else 1
            if head is not None:
                retired.append(head.row_id)
                corrected.append((head.leaf_id, len(rows)))
            row_id = next_id
            next_id += 1
            rows.append(
                (row_id, p.record_id, version, True, p.subject_key, p.kind, p.event_date,
                 p.commitment, p.mac, p.wrapped_key, p.ciphertext, submission_id, now,
                 p.settles)
            )  # fmt: skip
            results[p.position] = {
                "status": "accepted",
                "record_id": p.record_id,
                "commitment": to_hex(p.commitment),
                "version": version,
            }
        if retired:
            conn.exec_driver_sql(
                "UPDATE record SET is_current = FALSE WHERE id = ?", [(r,) for r in retired]
            )
        if rows:
            first = append_leaves(conn, "record", [r[7] for r in rows], now)
            conn.exec_driver_sql(_INSERT, [(*r, first + i) for i, r in enumerate(rows)])
            if corrected:
                request_status_change(
                    conn,
                    status="superseded",
                    leaves=[old for old, _ in corrected],
                    replacements=[first + i for _, i in corrected],
                    now=now,
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
