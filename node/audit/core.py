"""The verifying core: each line of a bundle checked against its member's batches on chain.

Pure and fast: bytes, hashlib and orjson, no chain access and no web3 object per record. The
chain's side comes in as plain values (`ChainBatch`, the statuses that changed), read once in
bulk by node/audit/chainview.py. A line proves itself: its record and salt hash to a
commitment, and its inclusion proof leads from that commitment to the root the registry holds
for its batch. A bitmap per batch says which leaves were proven, so that what is missing is
named leaf by leaf, with nothing kept per record.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from node.crypto.canonical import canonical_json
from node.crypto.merkle import HASH_BYTES

STATUSES = ("active", "superseded", "disputed", "revoked", "expired")  # RecordRegistry's order
EXPIRED, REVOKED = STATUSES.index("expired"), STATUSES.index("revoked")
DISPUTED = STATUSES.index("disputed")
# A batch anchored this long before a bundle was made belongs in it, whatever block the
# bundle claims to stop at: the node had it confirmed by then.
SETTLED_SECONDS = 600
MAX_NAMED = 100_000  # findings named one by one in a report; beyond, only counted

# Every kind of finding, with what it means, in the order a report lists them.
FINDING_KINDS = {
    "bundle": "the bundle itself: its format, its signature or its hash",
    "altered": "a record whose content or proof does not lead to its batch's root on chain",
    "missing": "a leaf of one of the member's batches that no line of the bundle proves",
    "missing_batch": "a batch the member anchored that the bundle does not hold at all",
    "extra": "a line that is not a leaf of the member's batches, or a second line for one",
    "not_erased": "a record expired on chain whose clear text the bundle still carries",
    "erased_early": "a record the bundle says is erased while on chain it is neither expired "
    "nor revoked",
    "status": "a status the bundle states that differs from the chain's",
    "chain": "the member's chain of batches broken (a batch not naming the previous root)",
    "one_sided_query": "a query one member logged that the other member did not",
    "overdue_objection": "an objection not answered inside its deadline",
}


@dataclass(frozen=True)
class ChainBatch:
    """One of the member's batches as the registry holds it."""

    batch_id: int
    root: bytes
    size: int
    prev_root: bytes
    block_number: int
    anchored_at: int = 0  # the anchoring block's timestamp


@dataclass(frozen=True)
class Finding:
    """One thing the audit found wrong, named by where it is."""

    kind: str
    detail: str
    batch: int | None = None
    leaf: int | None = None
    record_id: str | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class QuerySeen:
    """A query log entry proven on chain, kept for the cross-check between two members."""

    query_id: str
    side: str
    requester: str
    holder: str
    at: int
    purpose: str
    batch: int
    leaf: int


@dataclass
class Findings:
    """Findings by kind: every one counted, the first MAX_NAMED kept to be named."""

    named: list[Finding] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, finding: Finding) -> None:
        self.counts[finding.kind] += 1
        if len(self.named) < MAX_NAMED:
            self.named.append(finding)


def _hex(value: Any, size: int) -> bytes:
    if not isinstance(value, str) or len(value) != 2 + 2 * size or value[:2] not in ("0x", "0X"):
        raise ValueError(f"not {size} bytes of 0x-hex")
    return bytes.fromhex(value[2:])


def _proof(path: Any) -> bytes:
    """A line's audit path: one 0x-hex string of the sibling hashes, leaf to root, end to end
    (one decode per line, where a list of hashes would take one each)."""
    if type(path) is not str or path[:2] != "0x" or len(path) % (2 * HASH_BYTES) != 2:
        raise ValueError("proof is not 0x-hex of whole 32-byte hashes")
    return bytes.fromhex(path[2:])


def root_key(size: int) -> tuple[int, int]:
    """Where the root sits among a tree's nodes, keyed (level, index) as `proves` keys them:
    level k of a tree of `size` leaves holds ceil(size / 2**k) nodes (merkle.level_sizes)."""
    return (size - 1).bit_length(), 0


def proves(
    index: Any, size: int, commitment: bytes, path: bytes, nodes: dict[tuple[int, int], bytes]
) -> bool:
    """Whether `path` leads from `commitment` at leaf `index` of a tree of `size` leaves to a
    node already proven to be in the tree: `nodes` maps (level, index) to proven nodes, and
    holds at least the root (see `root_key`). The walk is RFC 9162 §2.1.3.2's, as
    node/crypto/merkle.py's root_from_inclusion_proof takes it. On success, the nodes the
    walk computed are proven too, and added: the next leaf's walk stops where it meets one,
    so each node of a batch is hashed about once, not once per leaf beneath it (a
    node equal to the proven one at its place leads to the same root, short of a SHA-256
    collision). A fresh `nodes` holding the root alone makes it a plain full walk."""
    if type(index) is not int or not 0 <= index < size or len(path) % HASH_BYTES:
        return False
    sha256 = hashlib.sha256
    r = sha256(b"\x00" + commitment).digest()
    fn, sn, level = index, size - 1, 0
    walked: list[tuple[tuple[int, int], bytes]] = []
    for at in range(0, len(path), HASH_BYTES):
        if sn == 0:
            return False
        p = path[at : at + HASH_BYTES]
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
                level += 1
        else:
            r = sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
        level += 1
        known = nodes.get((level, fn))
        if known is not None:
            if known != r:
                return False
            nodes.update(walked)
            return True
        walked.append(((level, fn), r))
    if size == 1 and not path:  # a one-leaf tree: the leaf hash is the root
        return nodes.get((0, 0)) == r
    return False


class LineChecker:
    """Checks a bundle's leaf lines one by one against the member's batches on chain.

    `statuses` holds the commitments whose status ever changed on chain (index in STATUSES);
    `expired` the leaves, (batch id, leaf index), marked in their batch's expiry bitmap
    (LeavesExpired): such a leaf is Expired unless its commitment's own status is final, as
    the registry's statusAt folds it. Every other anchored commitment is active. Call `check`
    for each line, then `finish`.
    """

    def __init__(
        self, *, batches: dict[int, ChainBatch], statuses: dict[bytes, int],
        expired: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
        share_nodes: bool = True,
    ) -> None:  # fmt: skip
        self.batches = batches
        self.share_nodes = share_nodes  # False: every path walked to the root (see `proves`)
        self._nodes_of = 0  # the batch whose proven nodes `_nodes` holds
        self._nodes: dict[tuple[int, int], bytes] = {}
        self.statuses = statuses
        self.expired = expired
        self.findings = Findings()
        self.proven: dict[int, bytearray] = {}  # batch id -> bitmap of proven leaves
        self.failed: list[tuple[int, Any, Any, str | None, str]] = []
        self.queries: list[QuerySeen] = []
        self.records = 0  # lines proven
        self.erased = 0
        self.withheld = 0  # records left out of a query-log bundle, commitment alone

    def check(self, line_no: int, raw: bytes) -> None:
        try:
            obj = orjson.loads(raw)
            batch_id, index = obj["batch"], obj["leaf"]
            kind = obj.get("kind", "record")
            proof = _proof(obj["proof"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
            self.findings.add(Finding("extra", f"not a bundle line: {err}", line=line_no))
            return
        body = obj.get("record") if kind == "record" else obj.get("entry")
        record_id = None  # what names the line: a record's id, a query's
        if isinstance(body, dict):
            record_id = body.get("record_id") or body.get("query_id")
        try:
            if body is not None:
                salt = _hex(obj["salt"], 32)
                computed = hashlib.sha256(salt + canonical_json(body)).digest()
            elif obj.get("erased") is True or obj.get("withheld") is True:
                computed = _hex(obj.get("commitment"), HASH_BYTES)
            else:
                self._fail(line_no, batch_id, index, record_id, "neither clear text nor erased")
                return
        except (KeyError, TypeError, ValueError) as err:
            self._fail(line_no, batch_id, index, record_id, f"malformed: {err}")
            return
        batch = self.batches.get(batch_id) if type(batch_id) is int else None
        if batch is None:
            self.findings.add(Finding(
                "extra", f"batch {batch_id} is not one of the member's batches on chain",
                batch=batch_id if isinstance(batch_id, int) else None, line=line_no,
                record_id=record_id,
            ))  # fmt: skip
            return
        if not proves(index, batch.size, computed, proof, self._proven_nodes(batch)):
            why = f"its proof does not lead to the root of batch {batch_id} on chain"
            try:
                claimed = _hex(obj.get("commitment"), HASH_BYTES)
            except ValueError:
                claimed = computed
            alone = {root_key(batch.size): batch.root}
            if claimed != computed and proves(index, batch.size, claimed, proof, alone):
                why = "its content no longer hashes to the commitment anchored at this leaf"
            self._fail(line_no, batch_id, index, record_id, why)
            return
        bitmap = self.proven.get(batch_id)
        if bitmap is None:
            bitmap = self.proven[batch_id] = bytearray((batch.size + 7) // 8)
        byte, bit = index >> 3, index & 7
        if bitmap[byte] >> bit & 1:
            self.findings.add(Finding("extra", "a second line for a leaf already proven",
                                      batch=batch_id, leaf=index, record_id=record_id,
                                      line=line_no))  # fmt: skip
            return
        bitmap[byte] |= 1 << bit
        self.records += 1
        status = self.statuses.get(computed, 0)
        if status in (0, DISPUTED) and (batch_id, index) in self.expired:
            status = EXPIRED
        if status or body is None or obj.get("status", "active") != "active":
            self._statuses(obj, body, status, batch_id, index, record_id, line_no)
        if kind == "query" and isinstance(body, dict):
            self._query(body, batch_id, index)

    def _proven_nodes(self, batch: ChainBatch) -> dict[tuple[int, int], bytes]:
        """The nodes of `batch` proven so far (of one batch at a time: memory stays flat)."""
        if not self.share_nodes or self._nodes_of != batch.batch_id:
            self._nodes_of = batch.batch_id
            self._nodes = {root_key(batch.size): batch.root}
        return self._nodes

    def _statuses(
        self, obj: dict[str, Any], body: Any, status: int, batch_id: int, index: int,
        record_id: str | None, line_no: int,
    ) -> None:  # fmt: skip
        """A line whose status is not plainly active: erased, expired, or stated otherwise."""

        def found(kind: str, detail: str) -> None:
            self.findings.add(Finding(kind, detail, batch=batch_id, leaf=index,
                                      record_id=record_id, line=line_no))  # fmt: skip

        if body is None and obj.get("withheld") is True:
            self.withheld += 1  # a query-log bundle: nothing to say of its erasure
        elif body is None:
            self.erased += 1
            if status not in (EXPIRED, REVOKED):
                found("erased_early", f"erased, yet on chain it is {STATUSES[status]}")
        elif status == EXPIRED:
            found("not_erased", "expired on chain, and the bundle still carries its clear text")
        stated = obj.get("status")
        if stated is not None and stated != STATUSES[status]:
            found("status", f"the bundle says {stated}, the chain {STATUSES[status]}")

    def _query(self, entry: dict[str, Any], batch_id: int, index: int) -> None:
        try:
            self.queries.append(QuerySeen(
                str(entry["query_id"]).lower(), str(entry["side"]),
                str(entry["requester"]).lower(), str(entry["holder"]).lower(),
                int(entry["at"]), str(entry.get("purpose", "")), batch_id, index,
            ))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            pass  # proven on chain all the same; it names no query to compare

    def _fail(self, line_no: int, batch_id: Any, index: Any, record_id: str | None,
              why: str) -> None:  # fmt: skip
        """A line that proves nothing: named once every line is read (`finish`), as altered
        if its leaf is proven by no other line, else as extra."""
        self.failed.append((line_no, batch_id, index, record_id, why))

    def finish(self, *, as_of_block: int | None, made_at: int | None = None) -> None:
        """Name the failed lines, and every leaf and batch no line proved: the member's
        batches anchored up to `as_of_block` (None: every batch) must all be there, and so
        must those anchored SETTLED_SECONDS or more before the bundle was made (`made_at`),
        whatever block the bundle claims to stop at."""
        altered: set[tuple[int, int]] = set()
        for line_no, batch_id, index, record_id, why in self.failed:
            batch = self.batches.get(batch_id) if isinstance(batch_id, int) else None
            inside = batch is not None and isinstance(index, int) and 0 <= index < batch.size
            if inside and not self._is_proven(batch_id, index) and (batch_id, index) not in altered:
                altered.add((batch_id, index))
                self.findings.add(Finding("altered", why, batch=batch_id, leaf=index,
                                          record_id=record_id, line=line_no))  # fmt: skip
            else:
                self.findings.add(Finding("extra", why, batch=batch_id if isinstance(batch_id, int)
                                          else None, leaf=index if isinstance(index, int) else None,
                                          record_id=record_id, line=line_no))  # fmt: skip
        settled = float("-inf") if made_at is None else made_at - SETTLED_SECONDS
        for batch in sorted(self.batches.values(), key=lambda b: b.batch_id):
            covered = as_of_block is None or batch.block_number <= as_of_block
            if not covered and batch.anchored_at > settled:
                continue
            bitmap = self.proven.get(batch.batch_id)
            if bitmap is None and not any(b == batch.batch_id for b, _ in altered):
                self.findings.add(Finding(
                    "missing_batch", f"batch {batch.batch_id} ({batch.size} leaves, anchored in "
                    f"block {batch.block_number}) is not in the bundle", batch=batch.batch_id,
                ))  # fmt: skip
                continue
            if bitmap is not None and bitmap == _full(batch.size):
                continue
            for index in range(batch.size):
                if not self._is_proven(batch.batch_id, index) and (
                    batch.batch_id, index) not in altered:  # fmt: skip
                    why = "no line of the bundle proves this leaf"
                    self.findings.add(Finding("missing", why, batch=batch.batch_id, leaf=index))

    def _is_proven(self, batch_id: int, index: int) -> bool:
        bitmap = self.proven.get(batch_id)
        return bitmap is not None and bool(bitmap[index >> 3] >> (index & 7) & 1)


def _full(size: int) -> bytes:
    """The bitmap of a batch whose every leaf is proven."""
    whole, rest = divmod(size, 8)
    return b"\xff" * whole + (bytes([(1 << rest) - 1]) if rest else b"")


def check_batch_chain(batches: list[ChainBatch]) -> list[Finding]:
    """The member's batches, in order, each naming the previous one's root (zero first)."""
    found = []
    previous = b"\x00" * 32
    for batch in sorted(batches, key=lambda b: b.batch_id):
        if batch.prev_root != previous:
            found.append(Finding("chain", f"batch {batch.batch_id} names previous root "
                                 f"0x{batch.prev_root.hex()}, not 0x{previous.hex()}",
                                 batch=batch.batch_id))  # fmt: skip
        previous = batch.root
    return found
