"""The sweeper: marks entries expired on chain once their expiry has passed.

Matching already stops at the expiry second on every node (checks compare with the time of
the block they are as of); marking an entry Expired on chain makes that final for everyone
reading the chain itself. This member's own entries are marked as soon as the index's block
time reaches their expiry; anyone's are marked after a grace period, so the entries of a
member that is gone or down still get marked, while the listing member usually marks its
own and the nodes do not all race for the same ones.
"""

import logging

from sqlalchemy.engine import Engine

from node.blacklist.service import blacklist_contract
from node.chain.client import ContractRevert
from node.chain.loop import ChainLoop
from node.chain.setup import Chain
from node.db import read_connection

log = logging.getLogger("creditchain.blacklist")

GRACE_SECONDS = 3600  # after this, any node marks anyone's expired entry
PER_STEP = 20
MARK_GAS = 200_000
_NOW = "(SELECT block_time FROM blacklist_cursor)"  # the index's block time


def due_for_marking(engine: Engine, me: str, grace: int = GRACE_SECONDS) -> list[int]:
    """Ids of listed entries past their expiry at the index's block time: this member's, and
    everyone's past the grace period; oldest expiry first."""
    with read_connection(engine) as conn:
        return [r[0] for r in conn.exec_driver_sql(
            f"SELECT id FROM blacklist_entry WHERE status = 'listed' AND expires_at <= {_NOW} "
            f"AND (member = ? OR expires_at <= {_NOW} - ?) ORDER BY expires_at, id LIMIT ?",
            (me, grace, PER_STEP),
        )]  # fmt: skip


class ExpirySweeper(ChainLoop):
    what = "expiry sweeping"
    idle = 5.0

    def __init__(self, *, engine: Engine, chain: Chain, grace: int = GRACE_SECONDS) -> None:
        super().__init__(log)
        self.engine = engine
        self.chain = chain
        self.grace = grace
        self._refused: set[int] = set()  # already marked by another, index not there yet

    def start(self) -> None:
        self.start_thread("blacklist-sweeper")

    def step(self) -> bool:
        """Mark the due entries, one transaction each; True if one was sent."""
        due = due_for_marking(self.engine, self.chain.client.account.address, self.grace)
        self._refused &= set(due)
        sent = False
        contract = blacklist_contract(self.chain)
        for entry_id in due:
            if entry_id in self._refused:
                continue
            try:
                tx = self.chain.client.send(contract.functions.markExpired(entry_id), gas=MARK_GAS)
            except ContractRevert as err:  # marked meanwhile, or the chain's time is behind
                log.info("entry %d not marked expired: %s", entry_id, err.name)
                self._refused.add(entry_id)
                continue
            self.chain.client.wait_receipt(tx, timeout=60)
            sent = True
        return sent
