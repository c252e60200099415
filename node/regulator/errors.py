"""The regulator view's refusals, each a DomainError answered as {"error", "detail", "field"}."""

from typing import Any

from node.errors import DomainError
from node.peers.signing import PeerRefused


class RegulatorError(DomainError):
    """A refusal of the regulator's view."""

    code, status, detail = "regulator_refused", 400, "the regulator's view refused the request"


class NodeNotRegulator(RegulatorError):
    code, status = "node_not_regulator", 403
    detail = (
        "this node's member does not hold the regulator role on chain (as its event index "
        "has read it), or is not active: the regulator's view is closed"
    )


class InvalidRule(RegulatorError):
    """A pattern rule or window that cannot be used; `field` names it."""

    code, status = "invalid_rule", 422


class NotARegulator(PeerRefused):
    """Another node asked for this member's query log without the regulator role."""

    code, status = "not_a_regulator", 403

    def __init__(self, member: str) -> None:
        super().__init__(
            member,
            detail=f"{member} is not an active member holding the regulator role: this node "
            "gives its query log to a regulator alone",
        )


class LogRejected(RegulatorError):
    """A member's query log held an entry that does not check against the chain."""

    code, status = "log_rejected", 502

    def __init__(self, member: str, query_id: str, why: str) -> None:
        super().__init__(member, query_id, detail=f"{member}: query {query_id}: {why}")
        self.member, self.query_id, self.why = member, query_id, why

    def context(self) -> dict[str, Any]:
        return {"member": self.member, "query_id": self.query_id}
