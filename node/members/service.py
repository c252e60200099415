"""Members and governance proposals: read from the node's event index, sent to the
Consortium contract.

Every change goes through an M-of-N vote of the founding admins; this node proposes and
votes with its own member key. Reads fold the Consortium's events as the index holds them,
with no chain round trip, and say as of which block. Refusals are the contract's own custom
errors, each mapped to a named refusal in one table (_REFUSALS).
"""

import logging
import time
import weakref
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from node.chain.client import ChainClient, ChainError, ContractRevert
from node.chain.events import ChainReader, Event, EventDecoder
from node.chain.index import EventIndex
from node.chain.setup import Chain
from node.crypto.eip712 import checksum
from node.errors import DomainError

log = logging.getLogger("creditchain.members")

STATUSES = ["none", "active", "suspended", "removed"]
ROLES = ["admin", "auditor", "regulator"]
ACTIONS = [
    "admit", "suspend", "reinstate", "remove",
    "grant_auditor", "grant_regulator", "revoke_auditor", "revoke_regulator",
    "set_contract",  # proposed with Consortium.proposeContract, listed here for its name
]  # fmt: skip
PROPOSAL_STATES = ["open", "executed", "expired"]
GOVERNANCE_GAS = 600_000


class GovernanceRefused(DomainError):
    """The Consortium contract refused a proposal or vote."""

    code, status, detail = "contract_refused", 409, "the contract refused the change"


class NotAdmin(GovernanceRefused):
    code, status, detail = "not_admin", 403, "only a founding admin may propose or vote"


class AlreadyVoted(GovernanceRefused):
    code, detail = "already_voted", "this member has already voted on the proposal"


class ProposalClosed(GovernanceRefused):
    code, detail = "proposal_closed", "the proposal is closed: it has been carried out"


class ProposalExpired(GovernanceRefused):
    code, detail = "proposal_expired", "the proposal has expired"


class UnknownProposal(GovernanceRefused):
    code, status, detail = "unknown_proposal", 404, "no such proposal"


class InvalidAction(GovernanceRefused):
    code = "invalid_action"
    detail = "the action does not fit the member's current status or roles"


class InvalidThreshold(GovernanceRefused):
    code = "invalid_threshold"
    detail = "the action would leave fewer active admins than votes needed"


class InvalidPublicKey(GovernanceRefused):
    code, status = "invalid_public_key", 422
    detail = "public_key must be a secp256k1 public key (33 or 65 bytes)"


class InvalidName(GovernanceRefused):
    code, status, detail = "invalid_name", 422, "name must be 1 to 256 bytes"


class InvalidNodeUrl(GovernanceRefused):
    code, status, detail = "invalid_node_url", 422, "node_url must be at most 256 bytes"


class ZeroAddress(GovernanceRefused):
    code, status, detail = "zero_address", 422, "the zero address cannot be a member"


class NotMined(GovernanceRefused):
    code, status, detail = "not_mined", 503, "the transaction did not land; try again"


# the contract's custom errors, each to the refusal it is answered with
_REFUSALS: dict[str, type[GovernanceRefused]] = {
    "NotAdmin": NotAdmin,
    "AlreadyVoted": AlreadyVoted,
    "ProposalClosed": ProposalClosed,
    "ProposalExpired": ProposalExpired,
    "UnknownProposal": UnknownProposal,
    "InvalidAction": InvalidAction,
    "InvalidThreshold": InvalidThreshold,
    "InvalidPublicKey": InvalidPublicKey,
    "InvalidName": InvalidName,
    "InvalidNodeUrl": InvalidNodeUrl,
    "ZeroAddress": ZeroAddress,
}


def _refused(err: ContractRevert) -> GovernanceRefused:
    known = _REFUSALS.get(err.name)
    if known is not None:
        return known(err.name)
    other = GovernanceRefused(err.name, detail=f"the contract refused: {err.name}")
    other.code = "".join("_" + c.lower() if c.isupper() else c for c in err.name).lstrip("_")
    return other


# -- reads: from the event index ------------------------------------------------------------

_MEMBER_EVENTS = ("MemberAdded", "MemberStatusChanged", "RoleGranted", "RoleRevoked")
_PROPOSAL_EVENTS = ("ProposalCreated", "Voted", "ProposalExecuted", "MemberAdded")
# what the chain was asked once, per connection: values fixed at deployment, and candidates
_asked: weakref.WeakKeyDictionary[ChainClient, dict[Any, Any]] = weakref.WeakKeyDictionary()


class Snapshot(NamedTuple):
    """An answer read from the event index, and the block the index had reached."""

    value: Any
    as_of_block: int | None


def fold_members(events: list[Event]) -> dict[str, dict[str, Any]]:
    """Members by address, in admission order, from their Consortium events in chain order
    (those of _MEMBER_EVENTS; other domains pass what they read in their own transaction)."""
    members: dict[str, dict[str, Any]] = {}
    for e in events:
        a = e.args
        if e.event == "MemberAdded":
            members[a["member"]] = {
                "address": a["member"], "name": a["name"], "node_url": a["nodeUrl"],
                "public_key": a["publicKey"], "status": "active", "roles": 0,
                "joined_at": e.block_time,
            }  # fmt: skip
        elif e.event not in _MEMBER_EVENTS or (m := members.get(a["member"])) is None:
            continue
        elif e.event == "MemberStatusChanged":
            m["status"] = STATUSES[a["status"]]
        elif e.event == "RoleGranted":
            m["roles"] |= 1 << a["role"]
        elif e.event == "RoleRevoked":
            m["roles"] &= ~(1 << a["role"])
    for m in members.values():
        m["roles"] = [r for i, r in enumerate(ROLES) if m["roles"] >> i & 1]
    return members


def list_members(*, index: EventIndex) -> Snapshot:
    """Every member ever admitted, in admission order, with its status and roles."""
    snap = index.read("Consortium", *_MEMBER_EVENTS)
    return Snapshot(list(fold_members(snap.events).values()), snap.as_of_block)


def member_status(*, index: EventIndex, address: str, conn: Connection | None = None) -> str | None:
    """The member's status ("active", "suspended", "removed"), as far as the index has read;
    None if it was never admitted. One read of the store (on `conn`, if given)."""
    address = checksum(address)
    snap = index.read(
        "Consortium", "MemberAdded", "MemberStatusChanged", where={"member": address}, conn=conn
    )
    member = fold_members(snap.events).get(address)
    return None if member is None else str(member["status"])


def is_active_member(*, index: EventIndex, address: str) -> bool:
    """Whether `address` is an active member, as far as the index has read."""
    return member_status(index=index, address=address) == "active"


def anchoring_paused(*, index: EventIndex, address: str) -> str | None:
    """Why the member at `address` cannot anchor now, as far as the index has read: "member
    suspended" or "member removed"; None while it is active or not yet indexed. One read of
    the store, no chain round trip, so it can be asked on every request."""
    status = member_status(index=index, address=address)
    if status not in ("suspended", "removed"):
        return None
    return "member " + status


def _constant(chain: Chain, name: str) -> int:
    """A value the Consortium fixes at deployment, asked of the chain once."""
    asked = _asked.setdefault(chain.client, {})
    if name not in asked:
        asked[name] = chain.client.call(getattr(chain.consortium.functions, name)())
    return asked[name]


def _candidate(chain: Chain, proposal: dict[str, Any]) -> dict[str, str] | None:
    """An open admission's candidate: kept in contract storage, not in an event, so asked of
    the chain once per proposal; None while the chain cannot be reached."""
    asked, key = _asked.setdefault(chain.client, {}), (proposal["id"], proposal["tx"])
    if key not in asked:
        try:
            name, url, pub = chain.client.call(chain.consortium.functions.getCandidate(key[0]))
        except (ChainError, ContractRevert, OSError):
            return None
        asked[key] = {"name": name, "node_url": url, "public_key": "0x" + bytes(pub).hex()}
    return asked[key]


def _fold_proposals(chain: Chain, events: list[Event]) -> dict[int, dict[str, Any]]:
    """Proposals by id, as the API shows them, from their events in chain order."""
    me = chain.client.account.address
    found: dict[int, dict[str, Any]] = {}
    added: dict[tuple[str, str], dict[str, str]] = {}  # (tx, member) -> what it registered
    for e in events:
        a = e.args
        if e.event == "ProposalCreated":
            found[a["id"]] = {
                "id": a["id"], "action": ACTIONS[a["action"]], "subject": a["subject"],
                "proposer": a["proposer"], "votes": 0, "created_at": e.block_time,
                "voted_by_this_member": False, "tx": e.tx_hash, "executed_in": None,
            }  # fmt: skip
        elif e.event == "MemberAdded":
            added[(e.tx_hash, a["member"])] = {
                "name": a["name"], "node_url": a["nodeUrl"], "public_key": a["publicKey"]
            }  # fmt: skip
        elif e.event == "Voted" and (p := found.get(a["id"])):
            p["votes"] = a["votes"]
            p["voted_by_this_member"] |= a["voter"] == me
        elif e.event == "ProposalExecuted" and (p := found.get(a["id"])):
            p["executed_in"] = e.tx_hash
    period, now = _constant(chain, "VOTING_PERIOD"), time.time()
    for p in found.values():
        p["votes_needed"] = _constant(chain, "threshold")
        p["expires_at"] = p["created_at"] + period
        p["state"] = (
            "executed" if p["executed_in"] else "expired" if p["expires_at"] <= now else "open"
        )
        if p["action"] == "admit":
            executed = added.get((p["executed_in"], p["subject"]))
            candidate = executed or _candidate(chain, p)
            if candidate:
                p["candidate"] = candidate
    return found


def _public(proposal: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "action", "subject", "proposer", "votes", "votes_needed", "created_at",
            "expires_at", "state", "voted_by_this_member", "candidate")  # fmt: skip
    return {k: proposal[k] for k in keys if k in proposal}


def get_proposal(*, index: EventIndex, chain: Chain, proposal_id: int) -> Snapshot:
    snap = index.read("Consortium", *_PROPOSAL_EVENTS)
    found = _fold_proposals(chain, snap.events).get(proposal_id)
    if found is None:
        raise UnknownProposal(proposal_id)
    return Snapshot(_public(found), snap.as_of_block)


def list_proposals(*, index: EventIndex, chain: Chain, pending_only: bool = True) -> Snapshot:
    """Proposals, newest first; by default only those still open for votes."""
    snap = index.read("Consortium", *_PROPOSAL_EVENTS)
    found = sorted(_fold_proposals(chain, snap.events).values(), key=lambda p: -p["id"])
    return Snapshot(
        [_public(p) for p in found if not pending_only or p["state"] == "open"],
        snap.as_of_block,
    )


# -- writes: to the chain --------------------------------------------------------------------


def _transact(chain: Chain, fn: Any) -> dict[str, Any]:
    try:
        tx_hash = chain.client.send(fn, gas=GOVERNANCE_GAS)
    except ContractRevert as err:
        raise _refused(err) from None
    receipt = chain.client.wait_receipt(tx_hash, timeout=60)
    if receipt is None or receipt["status"] != 1:
        raise NotMined(tx_hash)
    return receipt


def propose(
    *,
    chain: Chain,
    action: str,
    subject: str,
    name: str = "",
    node_url: str = "",
    public_key: bytes = b"",
    index: EventIndex | None = None,
) -> dict[str, Any]:
    """Propose a change as this member; its own vote counts at once."""
    fn = chain.consortium.functions.propose(
        ACTIONS.index(action), subject, name, node_url, public_key
    )
    receipt = _transact(chain, fn)
    created = [e for e in _reader(chain, index).decode_receipt(receipt)
               if e.event == "ProposalCreated"]  # fmt: skip
    return _after_write(chain, index, receipt, created[0].args["id"])


def vote(*, chain: Chain, proposal_id: int, index: EventIndex | None = None) -> dict[str, Any]:
    """Vote for a proposal as this member; the M-th vote carries it out."""
    receipt = _transact(chain, chain.consortium.functions.vote(proposal_id))
    return _after_write(chain, index, receipt, proposal_id)


def _reader(chain: Chain, index: EventIndex | None) -> ChainReader:
    if index is not None:
        return index.reader
    return ChainReader(
        chain.client.w3, EventDecoder(chain.addresses, chain.abis), chain.client.lock
    )


def _after_write(
    chain: Chain, index: EventIndex | None, receipt: dict[str, Any], proposal_id: int
) -> dict[str, Any]:
    """The proposal as this node's own transaction left it. The index is brought up to the
    chain first, so the node's next reads show the change; the transaction's own events
    count even where the index may not take them yet (confirmations above 0). Without an
    index (tools), the proposal's events are read from the chain."""
    reader = _reader(chain, index)
    if index is not None:
        try:
            index.catch_up(timeout=10)
        except Exception as err:  # the follower thread will get there; answer anyway
            log.info("index not caught up after a write: %s", type(err).__name__)
        events = index.read("Consortium", *_PROPOSAL_EVENTS).events
    else:
        topic = reader.decoder.topic_filter("Consortium", "Voted", {"id": proposal_id})[1]
        fetched = reader.fetch(0, receipt["blockNumber"], topics=[None, topic])[0]
        events = [e for e in fetched if e.contract == "Consortium"]
    seen = {(e.block_number, e.log_index) for e in events}
    events += [
        e
        for e in reader.decode_receipt(receipt)
        if e.contract == "Consortium" and (e.block_number, e.log_index) not in seen
    ]
    events.sort(key=lambda e: (e.block_number, e.log_index))
    return _public(_fold_proposals(chain, events)[proposal_id])
