"""Reading records back: one version as committed, a past submission, the counts.

Where a record stands on chain (its batch, its status) is asked of anchoring by the
record's leaf id; the records tables hold none of it.
"""

import zlib
from typing import Any

import orjson
from sqlalchemy.engine import Engine

from node.anchoring import service as anchoring
from node.crypto.commitments import to_hex
from node.db import TRUE, read_connection
from node.records.erasure import is_erased
from node.records.errors import RecordErased, RecordNotFound, SubmissionNotFound
from node.records.intake import RecordKeys


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


_SELECT_VERSION = (
    "SELECT r.id, r.record_id, r.version, r.commitment, r.wrapped_key, r.ciphertext, r.leaf_id, "
    "(SELECT MAX(version) FROM record WHERE record_id = r.record_id) AS versions "
    "FROM record r WHERE r.record_id = ? "
)


def load_version(engine: Engine, record_id: str, version: int | None) -> Any:
    """The stored row of one version (the current one if `version` is None)."""
    with read_connection(engine) as conn:
        if version is None:
            row = conn.exec_driver_sql(
                _SELECT_VERSION + f"AND r.is_current = {TRUE[conn.dialect.name]}", (record_id,)
            )
        else:
            row = conn.exec_driver_sql(_SELECT_VERSION + "AND r.version = ?", (record_id, version))
        found = row.first()
    if found is None:
        raise RecordNotFound(record_id)
    return found


def open_sealed(keys: RecordKeys, row: Any) -> dict[str, Any]:
    """The row's plaintext: committed form "c", salt "s", identity "i"; RecordErased if its
    data key was destroyed."""
    if is_erased(row):
        raise RecordErased(row.record_id)
    plaintext = keys.sealer.open(row.wrapped_key, row.ciphertext, row.commitment)
    return orjson.loads(plaintext)


def get_record(
    *, engine: Engine, keys: RecordKeys, record_id: str, version: int | None = None
) -> dict[str, Any]:
    """The committed record (its pseudonym, never the identifier) and where it stands."""
    row = load_version(engine, record_id, version)
    sealed = open_sealed(keys, row)
    with read_connection(engine) as conn:
        standing = anchoring.standing(conn, row.leaf_id)
    return {
        "record_id": row.record_id,
        "version": row.version,
        "versions": row.versions,
        "state": "anchored" if standing.state == "confirmed" else "pending",
        "chain_status": standing.status,
        "commitment": to_hex(row.commitment),
        "record": orjson.loads(sealed["c"]),
    }


def counts(*, engine: Engine) -> dict[str, int]:
    """How many entries wait for the chain and how many are anchored: anchoring's log, whose
    entries today are record versions."""
    return anchoring.counts(engine=engine)
