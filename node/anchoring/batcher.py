"""The batcher: pending leaves -> Merkle batch -> one anchoring transaction.

Every step is written to the store before the next one starts, so a crash at any moment
loses nothing: a built batch is sent after restart, a sent one is looked up on chain and
sent again if it never landed. A reorg that drops a batch's transaction sends the batch
back to `built`; it is anchored again, in order, with the same root and previous root.
Receipts are handed out only for `confirmed` batches. Requested expirations go out as bits
in their batch's expiry bitmap, up to EXPIRY_WORDS words of 256 leaves an expireLeaves
transaction; other status changes to one status up to STATUS_MARKS in a setStatuses
transaction (marks.py); a reorg has those it dropped marked again.

It works on anchoring's own tables alone (models.py: leaf, batch, batch_tree, status_change):
whatever kind a leaf is, it is batched, proven and marked the same way.
"""

import logging
import time
from typing import Any

from sqlalchemy.engine import Engine
from web3.logs import DISCARD

from node.anchoring.marks import STATUS_MARKS, StatusMarks, status_batch_gas
from node.anchoring.proofs import store_tree
from node.anchoring.service import pending_count
from node.chain.client import ChainError, ContractRevert
from node.chain.loop import ChainLoop
from node.chain.setup import Chain
from node.crypto.merkle import root_from_levels, tree_levels
from node.db import read_connection, write_transaction

log = logging.getLogger("creditchain.batcher")

ZERO_ROOT = b"\x00" * 32
_LAST_BATCHED = "(SELECT COALESCE(MAX(last_leaf), 0) FROM batch)"
MAX_LEAVES = 20_000
ANCHOR_GAS = 400_000
RESEND_AFTER = 5.0  # seconds a sent transaction may be unknown to the chain before resending


class Batcher(StatusMarks, ChainLoop):
    what = "anchoring"

    def __init__(
        self,
        *,
        engine: Engine,
        chain: Chain,
        batch_size: int,
        batch_interval: float,
        confirmations: int = 0,
    ) -> None:
        super().__init__(log)
        self.engine = engine
        self.chain = chain
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self.confirmations = confirmations
        self._sent_at: dict[int, float] = {}
        self._seen_head: str | None = None  # the head at the last reorg check
        self._last_status_tx: tuple[str, int] | None = None  # newest one sent: (hash, block)
        self._status_blocks: dict[int, str] = {}  # blocks of this run's status changes: hash

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        self.start_thread("batcher")

    def step(self) -> bool:
        """One unit of work; True if something moved."""
        self.check_reorgs()
        return self.advance_inflight() or self.confirm() or self.build() or self.mark()

    def drain(self, timeout: float = 60) -> None:
        """Run steps in this thread until nothing is pending (tests and tools)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.step() and self.pending_count() == 0 and not self._unfinished():
                return
        raise TimeoutError("leaves still pending after drain timeout")

    # -- queries ---------------------------------------------------------------------------

    def pending_count(self) -> int:
        with read_connection(self.engine) as conn:
            return pending_count(conn)

    def _unfinished(self) -> bool:
        with read_connection(self.engine) as conn:
            return bool(
                conn.exec_driver_sql(
                    "SELECT EXISTS(SELECT 1 FROM batch WHERE state != 'confirmed') OR "
                    "EXISTS(SELECT 1 FROM status_change WHERE state = 'pending')"
                ).scalar_one()
            )

    # -- building ----------------------------------------------------------------------------

    def build(self) -> bool:
        """Cut a batch from the pending leaves, by count or by age."""
        with read_connection(self.engine) as conn:
            if conn.exec_driver_sql(
                "SELECT EXISTS(SELECT 1 FROM batch WHERE state IN ('built', 'sent'))"
            ).scalar_one():
                return False
            count = pending_count(conn)
            if count == 0:
                return False
            oldest = conn.exec_driver_sql(
                f"SELECT created_at FROM leaf WHERE id = {_LAST_BATCHED} + 1"
            ).scalar_one()
        if count < self.batch_size and time.time() - oldest < self.batch_interval:
            return False
        with write_transaction(self.engine) as conn:
            rows = conn.exec_driver_sql(
                f"SELECT id, commitment FROM leaf WHERE id > {_LAST_BATCHED} ORDER BY id LIMIT ?",
                (MAX_LEAVES,),
            ).all()
            first, last = rows[0][0], rows[-1][0]
            if last - first + 1 != len(rows):
                raise RuntimeError(f"leaves {first}..{last} are not consecutive")
            levels = tree_levels([r[1] for r in rows])  # hashed once; receipts read it
            root = root_from_levels(levels)
            prev = conn.exec_driver_sql("SELECT root FROM batch ORDER BY id DESC LIMIT 1").scalar()
            batch_id = conn.exec_driver_sql(
                "INSERT INTO batch (root, size, first_leaf, last_leaf, prev_root, state, "
                "created_at) VALUES (?, ?, ?, ?, ?, 'built', ?) RETURNING id",
                (root, len(rows), first, last, prev or ZERO_ROOT, time.time()),
            ).scalar_one()
            store_tree(conn, batch_id, levels)
        log.info("batch %d built: %d leaves", batch_id, len(rows))
        return True

    # -- sending and following -----------------------------------------------------------------

    def _oldest_inflight(self) -> dict[str, Any] | None:
        with read_connection(self.engine) as conn:
            row = conn.exec_driver_sql(
                "SELECT id, root, size, prev_root, state, tx_hash FROM batch "
                "WHERE state IN ('built', 'sent') ORDER BY id LIMIT 1"
            ).first()
        return dict(row._mapping) if row else None

    def advance_inflight(self) -> bool:
        batch = self._oldest_inflight()
        if batch is None:
            return False
        if batch["state"] == "built":
            return self._send(batch)
        return self._follow(batch)

    def _send(self, batch: dict[str, Any]) -> bool:
        fn = self.chain.registry.functions.anchorBatch(
            batch["root"], batch["size"], batch["prev_root"]
        )
        try:
            tx_hash = self.chain.client.send(fn, gas=ANCHOR_GAS)
        except ContractRevert as err:
            if err.name == "RootAlreadyAnchored":
                return self._adopt_from_chain(batch)
            if err.name == "PrevRootMismatch":
                return self._follow_chain_root(batch)
            raise
        with write_transaction(self.engine) as conn:
            conn.exec_driver_sql(
                "UPDATE batch SET state = 'sent', tx_hash = ? WHERE id = ?", (tx_hash, batch["id"])
            )
        self._sent_at[batch["id"]] = time.monotonic()
        rcpt = self.chain.client.wait_receipt(tx_hash, timeout=2.0)
        if rcpt is not None:
            self._settle(batch["id"], rcpt)
        return True

    def _follow(self, batch: dict[str, Any]) -> bool:
        client = self.chain.client
        rcpt = client.receipt(batch["tx_hash"])
        if rcpt is not None:
            return self._settle(batch["id"], rcpt) or True
        if client.is_pending(batch["tx_hash"]):
            return False
        if self.chain.registry.functions.batchOfRoot(batch["root"]).call():
            return self._adopt_from_chain(batch)
        sent = self._sent_at.setdefault(batch["id"], time.monotonic())
        if time.monotonic() - sent < RESEND_AFTER:
            return False
        log.warning("batch %d: transaction not found on chain; sending again", batch["id"])
        client.reset_nonce()
        self._reset([batch["id"]])
        return True

    def _settle(self, batch_id: int, rcpt: dict[str, Any]) -> bool:
        if rcpt["status"] != 1:
            log.warning("batch %d: anchoring transaction reverted; sending again", batch_id)
            self.chain.client.reset_nonce()
            self._reset([batch_id])
            return True
        events = self.chain.registry.events.BatchAnchored().process_receipt(rcpt, errors=DISCARD)
        if not events:
            raise ChainError("anchoring receipt carries no BatchAnchored event")
        self._mark_anchored(batch_id, events[0])
        return True

    def _adopt_from_chain(self, batch: dict[str, Any]) -> bool:
        """The root is already on chain (sent before a crash): take its event as ours."""
        events = self.chain.registry.events.BatchAnchored().get_logs(
            argument_filters={"root": batch["root"]}, from_block=0
        )
        mine = [e for e in events if e["args"]["member"] == self.chain.client.account.address]
        if not mine:
            raise ChainError(f"batch {batch['id']}: root on chain but its event is missing")
        self._mark_anchored(batch["id"], mine[-1])
        return True

    def _follow_chain_root(self, batch: dict[str, Any]) -> bool:
        """The chain's last root of this member is not the batch's previous root. If it is a
        batch of ours this store never held (anchored with the member's key from a newer copy
        of the store: this one was restored from an older backup), chain the batch after it,
        and name the batches whose records this store does not have. Otherwise reconcile, as
        after a reorg."""
        registry = self.chain.registry.functions
        me = self.chain.client.account.address
        last = bytes(registry.lastRoot(me).call())
        with read_connection(self.engine) as conn:
            known = {bytes(r[0]) for r in conn.exec_driver_sql("SELECT root FROM batch").all()}
        chain_id = registry.batchOfRoot(last).call() if last != ZERO_ROOT else 0
        if last in known or not chain_id or registry.getBatch(chain_id).call()[0] != me:
            self._reconcile()
            return True
        unknown, walk = [], chain_id
        while walk and bytes(registry.getBatch(walk).call()[1]) not in known:
            unknown.append(walk)
            walk = registry.getBatchLink(walk).call()[0]
        with write_transaction(self.engine) as conn:
            conn.exec_driver_sql(
                "UPDATE batch SET prev_root = ? WHERE id = ? AND state = 'built'",
                (last, batch["id"]),
            )
        log.warning(
            "the chain holds %d batch(es) of this member not in this store (chain batch %s): "
            "this store is older than the member's last anchoring, their records are lost here "
            "and must be sent again; batch %d now follows chain batch %d",
            len(unknown), ", ".join(str(b) for b in sorted(unknown)), batch["id"], chain_id,
        )  # fmt: skip
        return True

    def _mark_anchored(self, batch_id: int, event: Any) -> None:
        with write_transaction(self.engine) as conn:
            conn.exec_driver_sql(
                "UPDATE batch SET state = 'anchored', chain_batch_id = ?, tx_hash = ?, "
                "block_number = ?, block_hash = ? WHERE id = ?",
                (
                    event["args"]["batchId"],
                    event["transactionHash"].to_0x_hex(),
                    event["blockNumber"],
                    event["blockHash"].to_0x_hex(),
                    batch_id,
                ),
            )
        self._sent_at.pop(batch_id, None)
        log.info("batch %d anchored as chain batch %d", batch_id, event["args"]["batchId"])

    def _reset(self, batch_ids: list[int]) -> None:
        with write_transaction(self.engine) as conn:
            conn.exec_driver_sql(
                "UPDATE batch SET state = 'built', chain_batch_id = NULL, tx_hash = NULL, "
                "block_number = NULL, block_hash = NULL, anchored_at = NULL WHERE id = ?",
                [(b,) for b in batch_ids],
            )

    def confirm(self) -> bool:
        """Anchored batches deep enough, and still in the canonical chain, become confirmed."""
        with read_connection(self.engine) as conn:
            rows = conn.exec_driver_sql(
                "SELECT id, block_number, block_hash FROM batch "
                "WHERE state = 'anchored' ORDER BY id"
            ).all()
        if not rows:
            return False
        head = self.chain.client.block_number()
        done = []
        for batch_id, number, block_hash in rows:
            if number + self.confirmations > head:
                break
            if self.chain.client.block_hash(number) != block_hash:
                self._reconcile()
                return True
            done.append(batch_id)
        if not done:
            return False
        with write_transaction(self.engine) as conn:
            conn.exec_driver_sql(
                "UPDATE batch SET state = 'confirmed', anchored_at = ? WHERE id = ?",
                [(time.time(), b) for b in done],
            )
        return True

    # -- reorgs ------------------------------------------------------------------------------

    def check_reorgs(self) -> None:
        """Each time the chain's head changes: is our newest anchored batch still there?"""
        head = self.chain.client.head_hash()
        if head == self._seen_head:
            return
        with read_connection(self.engine) as conn:
            row = conn.exec_driver_sql(
                "SELECT root, block_number, block_hash FROM batch "
                "WHERE state IN ('anchored', 'confirmed') ORDER BY id DESC LIMIT 1"
            ).first()
        if row is None:
            return
        registry = self.chain.registry.functions
        on_chain = registry.lastRoot(self.chain.client.account.address).call()
        moved = self.chain.client.block_hash(row[1]) != row[2]
        if moved or (on_chain != row[0] and not self._ahead_of_store(on_chain)):
            log.warning("chain reorganised under anchored batches; reconciling")
            self._reconcile()
        elif self._status_tx_moved():
            log.warning("chain reorganised under status changes; reconciling")
            self._reconcile()
        self._seen_head = head

    def _ahead_of_store(self, root: bytes) -> bool:
        """Whether `root` is a later batch of this member that the store never held (see
        `_follow_chain_root`): the store's newest batch is still where it was, so no reorg."""
        registry = self.chain.registry.functions
        chain_id = registry.batchOfRoot(root).call()
        if not chain_id:
            return False
        member = registry.getBatch(chain_id).call()[0]
        with read_connection(self.engine) as conn:
            newest = conn.exec_driver_sql(
                "SELECT MAX(chain_batch_id) FROM batch WHERE state IN ('anchored', 'confirmed')"
            ).scalar()
        return member == self.chain.client.account.address and chain_id > (newest or 0)

    def _reconcile(self) -> None:
        """Walk our anchored batches newest first; re-send those the chain no longer has.
        The newest batch, or status change of this run, still in the block we saw it in bounds
        the fork: that block, and every block before it, are as we saw them (a block's hash
        seals its parents); only status changes after it are checked."""
        client = self.chain.client
        with read_connection(self.engine) as conn:
            rows = conn.exec_driver_sql(
                "SELECT id, root, tx_hash, block_number, block_hash FROM batch "
                "WHERE state IN ('anchored', 'confirmed') ORDER BY id DESC"
            ).all()
        lost: list[int] = []
        fork = 0
        for batch_id, root, tx_hash, block_number, block_hash in rows:
            rcpt = client.receipt(tx_hash)
            if rcpt is not None and rcpt["status"] == 1:
                current_hash = rcpt["blockHash"].to_0x_hex()
                if client.block_hash(rcpt["blockNumber"]) == current_hash:
                    if current_hash == block_hash:
                        fork = block_number + 1
                        break  # everything older is as we saw it
                    self._settle(batch_id, rcpt)  # re-included in another block
                    continue
            if self.chain.registry.functions.batchOfRoot(root).call():
                self._adopt_from_chain({"id": batch_id, "root": root})
                continue
            lost.append(batch_id)
        if lost:
            log.warning("%d batch(es) dropped by a reorg; anchoring them again", len(lost))
            client.reset_nonce()
            self._reset(lost)
        for number in sorted(self._status_blocks, reverse=True):
            if number < fork:
                break
            if client.block_hash(number) == self._status_blocks[number]:
                fork = number + 1  # a later block of our status changes, as we saw it
                break
        self._status_blocks = {n: h for n, h in self._status_blocks.items() if n < fork}
        self._recheck_status_changes(fork)


__all__ = ["MAX_LEAVES", "STATUS_MARKS", "Batcher", "status_batch_gas"]
