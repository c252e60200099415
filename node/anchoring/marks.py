"""Requested status changes carried out on chain, for the batcher (batcher.py): expirations
go out as expireLeaves, one bit a leaf in its batch's bitmap, up to EXPIRY_WORDS words of 256
leaves a transaction and no proof (a retention sweep of 10,000 expirations from one batch is
one transaction); revocations go up to STATUS_MARKS in a setStatuses transaction, a supersede
alone. After a reorg, the changes past the fork are checked against their transactions'
receipts and those dropped are marked again.

It works on anchoring's own tables (status_change, leaf, batch) and the batcher's chain.
"""

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine
from web3.logs import DISCARD

from node.anchoring.expiries import leaf_indexes
from node.anchoring.proofs import inclusion_path
from node.anchoring.service import CHAIN_STATUSES
from node.chain.client import ChainError, ContractRevert
from node.chain.setup import Chain
from node.db import read_connection, write_transaction

log = logging.getLogger("creditchain.batcher")

STATUS_GAS = 600_000  # one supersede
STATUS_MARKS = 100  # status changes a setStatuses transaction carries: the contract's cap
STATUS_BATCH_BASE_GAS = 100_000
STATUS_MARK_GAS = 60_000  # a mark with the proof of a 20,000-leaf batch takes about 51,000
EXPIRY_WORDS = 64  # bitmap words (256 leaves each) an expireLeaves transaction carries
EXPIRY_BASE_GAS = 100_000
EXPIRY_WORD_GAS = 40_000  # a word's first write, its event and calldata take about 28,000
SEEN_BLOCKS = 64  # blocks of recent status changes kept in memory, to place a fork

Outcome = tuple[str, str | None, int | None, int]  # a status change's state, tx, block, id


class StatusMarks:
    """The batcher's status-change half; the batcher gives it its store and chain."""

    engine: Engine
    chain: Chain
    _last_status_tx: tuple[str, int] | None  # the newest one sent: (hash, block)
    _status_blocks: dict[int, str]  # blocks of this run's status changes: their hashes

    def mark(self) -> bool:
        """Carry out requested status changes once their leaves' batches (and, for superseded,
        the replacement's) are confirmed: the contract checks each leaf's inclusion proof.
        Changes to the same status go up to STATUS_MARKS in one setStatuses transaction;
        a supersede names its replacement and goes alone."""
        ready = (
            "SELECT c.id, c.status, l.commitment, b.id, l.id - b.first_leaf, b.size, b.root, "
            "b.chain_batch_id, n.commitment FROM status_change c "
            "JOIN leaf l ON l.id = c.leaf_id "
            "JOIN batch b ON l.id BETWEEN b.first_leaf AND b.last_leaf "
            "LEFT JOIN leaf n ON n.id = c.replacement "
            "LEFT JOIN batch nb ON n.id BETWEEN nb.first_leaf AND nb.last_leaf "
            "WHERE c.state = 'pending' AND b.state = 'confirmed' "
            "AND (c.replacement IS NULL OR nb.state = 'confirmed')"
        )
        with read_connection(self.engine) as conn:
            first = conn.exec_driver_sql(ready + " ORDER BY c.id LIMIT 1").first()
            if first is None:
                return False
            if first[1] == "superseded":
                return self._supersede(first)
            if first[1] == "expired":
                rows = conn.exec_driver_sql(
                    ready + " AND c.status = 'expired' AND b.chain_batch_id = ? "
                    "ORDER BY l.id LIMIT ?",
                    (first[7], EXPIRY_WORDS * 256),
                ).all()
                final = _locally_final(conn, [row[0] for row in rows])
                return self._expire(first[7], rows, final)
            rows = conn.exec_driver_sql(
                ready + " AND c.status = ? ORDER BY c.id LIMIT ?", (first[1], STATUS_MARKS)
            ).all()
        return self._set_statuses(first[1], rows)

    def _proof(self, row: Any) -> list[bytes]:
        _, _, com, local_batch, leaf, size, root, _, _ = row
        return inclusion_path(
            self.engine, batch_id=local_batch, size=size, index=leaf, entry=com, root=root
        )

    def _supersede(self, row: Any) -> bool:
        change, status, com, _, leaf, _, _, chain_batch, new_com = row
        registry = self.chain.registry.functions
        fn = registry.supersede(com, chain_batch, leaf, self._proof(row), new_com)
        state, tx_hash, block = "done", None, None
        try:
            sent = self.chain.client.send(fn, gas=STATUS_GAS)
        except ContractRevert as err:
            if err.name != "StatusNotActive":
                raise
            if CHAIN_STATUSES[registry.statusOf(com).call()] != status:
                state = "refused"  # the chain holds another status that this one cannot follow
                log.warning("status change %d refused on chain (%s)", change, err.name)
        else:
            rcpt = self._landed(sent)
            tx_hash, block = sent, rcpt["blockNumber"]
            self._last_status_tx = (tx_hash, block)
        self._record([(state, tx_hash, block, change)])
        return True

    def _set_statuses(self, status: str, rows: Sequence[Any]) -> bool:
        """One setStatuses transaction for `rows`, all asking for `status`. The contract skips
        a mark whose commitment's status cannot step to `status` (another party changed it
        first) and applies the others; the receipt's events say which were applied. A skipped
        one is done if the chain already holds `status`, refused otherwise."""
        registry = self.chain.registry.functions
        marks = [(row[2], row[7], row[4], self._proof(row)) for row in rows]
        fn = registry.setStatuses(marks, CHAIN_STATUSES.index(status))
        sent = self.chain.client.send(fn, gas=status_batch_gas(len(marks)))
        rcpt = self._landed(sent)
        self._last_status_tx = (sent, rcpt["blockNumber"])
        applied = {e["args"]["commitment"] for e in self._status_events(rcpt)}
        outcomes: list[Outcome] = []
        for change, _, com, *_ in rows:
            if com in applied:
                outcomes.append(("done", sent, rcpt["blockNumber"], change))
            elif CHAIN_STATUSES[registry.statusOf(com).call()] == status:
                # someone else did it first: seen as of this block, checked again after a reorg
                outcomes.append(("done", None, rcpt["blockNumber"], change))
            else:
                log.warning("status change %d refused on chain (skipped)", change)
                outcomes.append(("refused", None, None, change))
        self._record(outcomes)
        log.info("%d status change(s) to %s in one transaction", len(applied), status)
        return True

    def _expire(self, chain_batch: int, rows: Sequence[Any], final: set[int]) -> bool:
        """One expireLeaves transaction for `rows`, all of chain batch `chain_batch`, grouped
        into bitmap words (at most EXPIRY_WORDS). A leaf this node already revoked or
        superseded is refused without being sent: those statuses are final. The receipt's
        LeavesExpired events carry the bits set by this transaction; a leaf whose bit was set
        before is done all the same (seen as of this block, checked again after a reorg)."""
        words: dict[int, int] = {}
        outcomes: list[Outcome] = []
        sendable: list[tuple[int, int]] = []  # (change, leaf index)
        for row in rows:
            change, index = row[0], row[4]
            if change in final:
                log.warning("status change %d refused (the leaf's status is final)", change)
                outcomes.append(("refused", None, None, change))
                continue
            if index >> 8 not in words and len(words) == EXPIRY_WORDS:
                break  # the rest go in the next transaction
            words[index >> 8] = words.get(index >> 8, 0) | 1 << (index & 0xFF)
            sendable.append((change, index))
        if words:
            registry = self.chain.registry.functions
            fn = registry.expireLeaves(chain_batch, list(words), list(words.values()))
            sent = self.chain.client.send(fn, gas=expiry_gas(len(words)))
            rcpt = self._landed(sent)
            self._last_status_tx = (sent, rcpt["blockNumber"])
            fresh = self._expired_leaves(rcpt).get(chain_batch, set())
            for change, index in sendable:
                by = sent if index in fresh else None
                outcomes.append(("done", by, rcpt["blockNumber"], change))
            log.info("%d leaf(s) expired in one transaction", len(fresh))
        self._record(outcomes)
        return True

    def _expired_leaves(self, rcpt: dict[str, Any]) -> dict[int, set[int]]:
        """The leaves a receipt's LeavesExpired events marked: chain batch id to leaf indexes."""
        marked: dict[int, set[int]] = {}
        events = self.chain.registry.events.LeavesExpired().process_receipt(rcpt, errors=DISCARD)
        for e in events:
            leaves = marked.setdefault(e["args"]["batchId"], set())
            leaves.update(leaf_indexes(e["args"]["word"], e["args"]["bits"]))
        return marked

    def _landed(self, tx_hash: str) -> dict[str, Any]:
        """The receipt of a status change transaction; ChainError (and a retry) if it did
        not land."""
        rcpt = self.chain.client.wait_receipt(tx_hash, timeout=10)
        if rcpt is None or rcpt["status"] != 1:
            self.chain.client.reset_nonce()
            raise ChainError("status change transaction did not land; will retry")
        self._status_blocks[rcpt["blockNumber"]] = rcpt["blockHash"].to_0x_hex()
        for number in sorted(self._status_blocks)[:-SEEN_BLOCKS]:
            del self._status_blocks[number]
        return rcpt

    def _status_events(self, rcpt: dict[str, Any]) -> Any:
        return self.chain.registry.events.RecordStatusChanged().process_receipt(
            rcpt, errors=DISCARD
        )

    def _record(self, outcomes: list[Outcome]) -> None:
        with write_transaction(self.engine) as conn:
            conn.exec_driver_sql(
                "UPDATE status_change SET state = ?, tx_hash = ?, block_number = ? WHERE id = ?",
                outcomes,
            )

    def _status_tx_moved(self) -> bool:
        """Whether the newest status change transaction is gone from its block (a reorg that
        dropped no batch of ours may still drop it)."""
        if self._status_blocks:
            number = max(self._status_blocks)
            return self.chain.client.block_hash(number) != self._status_blocks[number]
        if self._last_status_tx is None:
            with read_connection(self.engine) as conn:
                row = conn.exec_driver_sql(
                    "SELECT tx_hash, block_number FROM status_change WHERE tx_hash IS NOT NULL "
                    "ORDER BY block_number DESC LIMIT 1"
                ).first()
            self._last_status_tx = (row[0], row[1]) if row else ("", -1)
        tx_hash, block = self._last_status_tx
        if not tx_hash:
            return False
        rcpt = self.chain.client.receipt(tx_hash)
        return rcpt is None or rcpt["blockNumber"] != block

    def _recheck_status_changes(self, since: int) -> None:
        """After a reorg that forked the chain at block `since`: the status changes done in a
        block from `since` on, and those alone, are checked against their transactions'
        receipts (one receipt a transaction, not one call a change). A change whose
        transaction is gone, failed, or no longer changed its commitment (for an expiry, no
        longer set its leaf's bit) is pending again, and so is one found done by someone
        else's transaction or an earlier bit (its block is the one it was seen in) that the
        chain no longer holds; carried out again, it is done at once if the chain holds it by
        then."""
        with read_connection(self.engine) as conn:
            rows = conn.exec_driver_sql(
                "SELECT c.id, c.tx_hash, l.commitment, c.status, b.chain_batch_id, "
                "l.id - b.first_leaf FROM status_change c "
                "JOIN leaf l ON l.id = c.leaf_id "
                "JOIN batch b ON l.id BETWEEN b.first_leaf AND b.last_leaf "
                "WHERE c.state = 'done' AND c.block_number >= ?",
                (since,),
            ).all()
        by_tx: dict[str, list[tuple[int, Any]]] = {}
        undone: list[tuple[int]] = []
        registry = self.chain.registry.functions
        for change, tx_hash, com, status, chain_batch, index in rows:
            key = (chain_batch, index) if status == "expired" else com
            if tx_hash is None:  # done by someone else's transaction: is it still there?
                if status == "expired":
                    bits = registry.expiredLeaves(chain_batch, index >> 8).call()
                    held = bool(bits >> (index & 0xFF) & 1)
                else:
                    held = CHAIN_STATUSES[registry.statusOf(com).call()] == status
                if not held:
                    undone.append((change,))
                continue
            by_tx.setdefault(tx_hash, []).append((change, key))
        client = self.chain.client
        moved: list[tuple[int, int]] = []
        for tx_hash, changes in by_tx.items():
            rcpt = client.receipt(tx_hash)
            applied: set[Any] = set()
            if rcpt is not None and rcpt["status"] == 1:
                if client.block_hash(rcpt["blockNumber"]) == rcpt["blockHash"].to_0x_hex():
                    applied = {e["args"]["commitment"] for e in self._status_events(rcpt)}
                    for batch_id, leaves in self._expired_leaves(rcpt).items():
                        applied.update((batch_id, index) for index in leaves)
            for change, key in changes:
                if key in applied:
                    moved.append((rcpt["blockNumber"], change))  # type: ignore[index]
                else:
                    undone.append((change,))
        with write_transaction(self.engine) as conn:
            if moved:
                conn.exec_driver_sql(
                    "UPDATE status_change SET block_number = ? WHERE id = ?", moved
                )
            if undone:
                conn.exec_driver_sql(
                    "UPDATE status_change SET state = 'pending', tx_hash = NULL, "
                    "block_number = NULL WHERE id = ?",
                    undone,
                )
        if undone:
            log.warning("%d status change(s) dropped by a reorg; marking them again", len(undone))
            client.reset_nonce()
        self._last_status_tx = None


def status_batch_gas(marks: int) -> int:
    """The gas limit of a setStatuses transaction of `marks` marks."""
    return STATUS_BATCH_BASE_GAS + marks * STATUS_MARK_GAS


def expiry_gas(words: int) -> int:
    """The gas limit of an expireLeaves transaction of `words` bitmap words."""
    return EXPIRY_BASE_GAS + words * EXPIRY_WORD_GAS


def _locally_final(conn: Any, changes: list[int]) -> set[int]:
    """Of status changes `changes`, those whose leaf this node already revoked or superseded
    (done): a final status on chain that an expiry cannot follow."""
    if not changes:
        return set()
    marks = ",".join("?" * len(changes))
    return set(
        conn.exec_driver_sql(
            f"SELECT c.id FROM status_change c JOIN status_change f ON f.leaf_id = c.leaf_id "
            f"WHERE c.id IN ({marks}) AND f.state = 'done' "
            f"AND f.status IN ('revoked', 'superseded')",
            tuple(changes),
        ).scalars()
    )
