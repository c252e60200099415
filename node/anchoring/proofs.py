"""Merkle trees of stored batches, rebuilt on demand for receipts and corrections.

A batch's leaves never change once it is built, so the levels of the last few batches
asked about are kept in memory: a burst of receipts from one batch hashes the tree once.
"""

import threading
from collections import OrderedDict

from sqlalchemy.engine import Engine

from node.crypto.merkle import tree_levels
from node.db import read_connection

_CACHE_BATCHES = 8
_cache: OrderedDict[tuple[int, int], list[list[bytes]]] = OrderedDict()
_lock = threading.Lock()


def levels_for_batch(engine: Engine, batch_id: int) -> list[list[bytes]]:
    """The tree levels of a stored batch, from its commitments in leaf order."""
    key = (id(engine), batch_id)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with read_connection(engine) as conn:
        commitments = list(
            conn.exec_driver_sql(
                "SELECT r.commitment FROM batch b JOIN record r "
                "ON r.id BETWEEN b.first_row AND b.last_row WHERE b.id = ? ORDER BY r.id",
                (batch_id,),
            ).scalars()
        )
    levels = tree_levels(commitments)
    with _lock:
        _cache[key] = levels
        while len(_cache) > _CACHE_BATCHES:
            _cache.popitem(last=False)
    return levels
