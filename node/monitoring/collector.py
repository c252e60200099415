"""The node's registry for GET /metrics: the counters of node/metrics.py, the process's own
figures, and what the store and the event index say at the moment of the scrape.

The scrape-time figures cost a handful of indexed reads and no chain call: the chain's head
is the one the event index saw on its last step (it asks every fraction of a second)."""

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from node.anchoring.service import backlog
from node.metrics import INSTRUMENTS

log = logging.getLogger("creditchain.metrics")


class NodeCollector:
    """Figures read from the node at each scrape; `node` gives the running node (None before
    it has started, when only the counters are shown)."""

    def __init__(self, node: Callable[[], Any]) -> None:
        self.node = node

    def describe(self) -> list[Metric]:
        return []  # read at scrape only, never at registration

    def collect(self) -> Iterator[Metric]:
        node = self.node()
        if node is None:
            return
        yield from self._anchoring(node)
        yield from self._index(node)
        loops = GaugeMetricFamily(
            "creditchain_chain_loop_failing",
            "1 while the loop's last step failed (chain away or refusing), else 0",
            labels=["loop"],
        )
        loops.add_metric(["anchoring"], 1 if node.batcher.last_error else 0)
        loops.add_metric(["indexing"], 1 if node.index.last_error else 0)
        yield loops

    def _anchoring(self, node: Any) -> Iterator[Metric]:
        try:
            figures = backlog(engine=node.engine)
        except Exception as err:  # the store is away: say so, show the rest
            log.warning("metrics: store unreadable (%s)", type(err).__name__)
            yield GaugeMetricFamily(
                "creditchain_store_up", "1 if the store answered the scrape", value=0
            )
            return
        yield GaugeMetricFamily("creditchain_store_up", "1 if the store answered the scrape", 1)
        yield GaugeMetricFamily(
            "creditchain_records_pending",
            "entries stored but in no confirmed batch yet: record versions (and query log "
            "entries), waiting for the chain",
            value=figures["waiting"],
        )
        yield CounterMetricFamily(
            "creditchain_batches_anchored",
            "batches anchored on chain and confirmed, since the store was made",
            value=figures["confirmed_batches"],
        )
        oldest = figures["oldest_at"]
        lag = 0.0 if oldest is None else max(time.time() - float(oldest), 0.0)
        yield GaugeMetricFamily(
            "creditchain_anchoring_lag_seconds",
            "age of the oldest entry not yet in a confirmed batch (0: none waits)",
            value=lag,
        )

    def _index(self, node: Any) -> Iterator[Metric]:
        head = node.index.head
        try:
            indexed = node.index.indexed_block()
        except Exception:
            return  # said by creditchain_store_up
        if indexed is not None:
            yield GaugeMetricFamily(
                "creditchain_indexed_block", "the block the event index has read up to", indexed
            )
        if head is None:
            return
        yield GaugeMetricFamily(
            "creditchain_chain_head_block",
            "the chain's head as the event index last saw it",
            value=head,
        )
        yield GaugeMetricFamily(
            "creditchain_index_lag_blocks",
            "blocks between the chain's head and the event index (the confirmation depth included)",
            value=head - (-1 if indexed is None else indexed),
        )


def registry_for(node: Callable[[], Any]) -> CollectorRegistry:
    """A registry of everything GET /metrics shows, for the node `node()` gives."""
    registry = CollectorRegistry()
    for instrument in INSTRUMENTS:
        registry.register(instrument)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    registry.register(NodeCollector(node))
    return registry
