"""What a route needs, declared once: the running node's parts."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from node.anchoring.batcher import Batcher
from node.chain.index import EventIndex
from node.chain.setup import Chain
from node.config import Settings
from node.records.service import RecordKeys
from node.records.workers import Preparer
from node.relays import RelayQuota


@dataclass
class Node:
    settings: Settings
    engine: Engine
    keys: RecordKeys
    chain: Chain
    batcher: Batcher
    preparer: Preparer
    index: EventIndex
    relays: RelayQuota  # the borrower-signed transactions relayed per subject


async def get_node(request: Request) -> Node:
    """Async, so that FastAPI calls it on the event loop: a plain function dependency costs a
    hop to a worker thread and back on every request."""
    return request.app.state.node


NodeDep = Annotated[Node, Depends(get_node)]
