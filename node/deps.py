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


@dataclass
class Node:
    settings: Settings
    engine: Engine
    keys: RecordKeys
    chain: Chain
    batcher: Batcher
    preparer: Preparer
    index: EventIndex


def get_node(request: Request) -> Node:
    return request.app.state.node


NodeDep = Annotated[Node, Depends(get_node)]
