"""Members and governance proposals, read from and sent to the Consortium contract.

Every change goes through an M-of-N vote of the founding admins; this node proposes and
votes with its own member key. Refusals are the contract's own custom errors, mapped to
GovernanceRefused with an HTTP status in one place.
"""

import time
from typing import Any

from web3.logs import DISCARD

from node.chain.client import ContractRevert
from node.chain.setup import Chain

STATUSES = ["none", "active", "suspended", "removed"]
ROLES = ["admin", "auditor", "regulator"]
ACTIONS = [
    "admit", "suspend", "reinstate", "remove",
    "grant_auditor", "grant_regulator", "revoke_auditor", "revoke_regulator",
    "set_contract",  # proposed with Consortium.proposeContract, listed here for its name
]  # fmt: skip
PROPOSAL_STATES = ["open", "executed", "expired"]
GOVERNANCE_GAS = 600_000

# contract error -> (HTTP status, what to tell the operator)
_REFUSALS = {
    "NotAdmin": (403, "only a founding admin may propose or vote"),
    "AlreadyVoted": (409, "this member has already voted on the proposal"),
    "ProposalClosed": (409, "the proposal is closed: it has been carried out"),
    "ProposalExpired": (409, "the proposal has expired"),
    "UnknownProposal": (404, "no such proposal"),
    "InvalidAction": (409, "the action does not fit the member's current status or roles"),
    "InvalidThreshold": (409, "the action would leave fewer active admins than votes needed"),
    "InvalidPublicKey": (422, "public_key must be a secp256k1 public key (33 or 65 bytes)"),
    "InvalidName": (422, "name must be 1 to 256 bytes"),
    "InvalidNodeUrl": (422, "node_url must be at most 256 bytes"),
    "ZeroAddress": (422, "the zero address cannot be a member"),
}


class GovernanceRefused(Exception):
    """The Consortium contract refused a proposal or vote."""

    def __init__(self, error: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.error, self.status, self.detail = error, status, detail


def _refused(err: ContractRevert) -> GovernanceRefused:
    status, detail = _REFUSALS.get(err.name, (409, f"the contract refused: {err.name}"))
    code = "".join("_" + c.lower() if c.isupper() else c for c in err.name).lstrip("_")
    return GovernanceRefused(code, status, detail)


def _member(chain: Chain, address: str) -> dict[str, Any]:
    status, roles, name, url, key, joined = chain.client.call(
        chain.consortium.functions.getMember(address)
    )
    return {
        "address": address,
        "name": name,
        "node_url": url,
        "public_key": "0x" + bytes(key).hex(),
        "status": STATUSES[status],
        "roles": [r for i, r in enumerate(ROLES) if roles >> i & 1],
        "joined_at": joined,
    }


def list_members(*, chain: Chain) -> list[dict[str, Any]]:
    """Every member ever admitted, in admission order, with its status and roles."""
    fns = chain.consortium.functions
    count = chain.client.call(fns.memberCount())
    return [_member(chain, chain.client.call(fns.memberAt(i))) for i in range(count)]


def get_proposal(*, chain: Chain, proposal_id: int) -> dict[str, Any]:
    fns = chain.consortium.functions
    try:
        action, subject, proposer, votes, created, expires, state = chain.client.call(
            fns.getProposal(proposal_id)
        )
    except ContractRevert as err:
        raise _refused(err) from None
    out: dict[str, Any] = {
        "id": proposal_id,
        "action": ACTIONS[action],
        "subject": subject,
        "proposer": proposer,
        "votes": votes,
        "votes_needed": chain.client.call(fns.threshold()),
        "created_at": created,
        "expires_at": expires,
        "state": PROPOSAL_STATES[state],
        "voted_by_this_member": chain.client.call(
            fns.hasVoted(proposal_id, chain.client.account.address)
        ),
    }
    if out["state"] == "open" and expires <= time.time():
        out["state"] = "expired"
    if ACTIONS[action] == "admit":
        name, url, key = chain.client.call(fns.getCandidate(proposal_id))
        out["candidate"] = {"name": name, "node_url": url, "public_key": "0x" + bytes(key).hex()}
    return out


def list_proposals(*, chain: Chain, pending_only: bool = True) -> list[dict[str, Any]]:
    """Proposals, newest first; by default only those still open for votes."""
    count = chain.client.call(chain.consortium.functions.proposalCount())
    found = []
    for proposal_id in range(count, 0, -1):
        proposal = get_proposal(chain=chain, proposal_id=proposal_id)
        if pending_only and proposal["expires_at"] <= time.time():
            break  # proposals are numbered in time: every older one has expired too
        if not pending_only or proposal["state"] == "open":
            found.append(proposal)
    return found


def _transact(chain: Chain, fn: Any) -> dict[str, Any]:
    try:
        tx_hash = chain.client.send(fn, gas=GOVERNANCE_GAS)
    except ContractRevert as err:
        raise _refused(err) from None
    receipt = chain.client.wait_receipt(tx_hash, timeout=60)
    if receipt is None or receipt["status"] != 1:
        raise GovernanceRefused("not_mined", 503, "the transaction did not land; try again")
    return receipt


def propose(
    *,
    chain: Chain,
    action: str,
    subject: str,
    name: str = "",
    node_url: str = "",
    public_key: bytes = b"",
) -> dict[str, Any]:
    """Propose a change as this member; its own vote counts at once."""
    fn = chain.consortium.functions.propose(
        ACTIONS.index(action), subject, name, node_url, public_key
    )
    receipt = _transact(chain, fn)
    event = chain.consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]
    return get_proposal(chain=chain, proposal_id=event["args"]["id"])


def vote(*, chain: Chain, proposal_id: int) -> dict[str, Any]:
    """Vote for a proposal as this member; the M-th vote carries it out."""
    _transact(chain, chain.consortium.functions.vote(proposal_id))
    return get_proposal(chain=chain, proposal_id=proposal_id)
