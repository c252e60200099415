"""A record's receipt: the record and its salt from this domain, the chain side (batch,
proof, root, transaction) from anchoring, which answers the same way for any leaf."""

from typing import Any

import orjson
from sqlalchemy.engine import Engine

from node.anchoring.service import LeafPending, receipt_anchor, receipt_fields
from node.records.errors import NotAnchored
from node.records.intake import RecordKeys
from node.records.reads import load_version, open_sealed


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
    row = load_version(engine, record_id, version)
    try:
        return receipt_of_row(engine=engine, keys=keys, row=row, chain_id=chain_id,
                              registry=registry)  # fmt: skip
    except LeafPending as err:
        raise NotAnchored(f"pending ({err.where})") from None


def receipt_of_row(
    *, engine: Engine, keys: RecordKeys, row: Any, chain_id: int, registry: str
) -> dict[str, Any]:
    """The receipt of a stored record version (a row with commitment, wrapped_key, ciphertext
    and leaf_id); LeafPending while its leaf is not in a confirmed batch."""
    anchor = receipt_anchor(engine, row.leaf_id)
    if anchor["commitment"] != row.commitment:
        raise RuntimeError(f"record {row.id}: its leaf holds another commitment")
    sealed = open_sealed(keys, row)
    return {
        "version": 1,
        "record": orjson.loads(sealed["c"]),
        "salt": "0x" + sealed["s"],
        **receipt_fields(anchor, chain_id=chain_id, registry=registry),
    }
