"""Is the node ready to serve: its store answers, its chain answers, and its event index has
read the chain to within the confirmation depth (so that the checks made against it, such as
a requester's membership or a consent's revocation, are current).

Each part is "ok" or says why not in words that carry no URL, key or value: a chain URL may
hold credentials, so an error is named by its type alone."""

from typing import Any

from node.db import read_connection
from node.errors import DomainError

OK = "ok"


class NotReady(DomainError):
    code, status = "not_ready", 503
    detail = "the node is not ready"

    def __init__(self, parts: dict[str, str]) -> None:
        failing = ", ".join(f"{part}: {why}" for part, why in parts.items() if why != OK)
        super().__init__(detail=f"not ready: {failing}")
        self.parts = parts

    def context(self) -> dict[str, Any]:
        return {"parts": self.parts}


def store_part(node: Any) -> str:
    try:
        with read_connection(node.engine) as conn:
            conn.exec_driver_sql("SELECT 1").scalar_one()
    except Exception as err:
        return f"unreachable ({type(err).__name__})"
    return OK


def index_part(node: Any, head: int | None) -> str:
    """Caught up if the blocks it has yet to read (the confirmation depth set apart) are at
    most the confirmation depth, or one block when there is none: the index reads a new
    block within a fraction of a second."""
    if head is None:
        return "unknown: the chain does not answer"
    try:
        indexed = node.index.indexed_block()
    except Exception as err:
        return f"unreadable ({type(err).__name__})"
    depth = node.index.confirmations
    behind = head - depth - (-1 if indexed is None else indexed)
    if behind > max(depth, 1):
        return f"catching up: {behind} block(s) behind"
    return OK


def require_ready(node: Any, head: int | None, chain: str) -> dict[str, str]:
    """Every part "ok", or NotReady naming those that are not. `head` and `chain` are the
    chain's answer, asked by the caller (who bounds how long it may take)."""
    parts = {"store": store_part(node), "chain": chain, "index": index_part(node, head)}
    if any(why != OK for why in parts.values()):
        raise NotReady(parts)
    return parts
