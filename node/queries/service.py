"""The queries domain's entry points, as the routes call them: answer a member's query
(holder.py), ask every member (requester.py), read a subject's trail (trail.py).

One query log per store: its writer thread group-commits the entries of every request.
"""

import asyncio
import weakref
from typing import Any

import orjson
from sqlalchemy.engine import Engine

from node.consents.login import verify_login
from node.crypto.subjects import InvalidIdentifier, subject_key
from node.deps import Node
from node.errors import DomainError
from node.peers.signing import NonceBook, verify
from node.queries import holder, requester
from node.queries import trail as trails
from node.queries.log import QueryEntry, QueryLog
from node.queries.schemas import PeerQuery, QueryIn

LOGIN_HEADER = "X-Creditchain-Login"
LOGIN_SIGNATURE_HEADER = "X-Creditchain-Login-Signature"
_logs: weakref.WeakKeyDictionary[Engine, QueryLog] = weakref.WeakKeyDictionary()
_caches: weakref.WeakKeyDictionary[Engine, holder.ReceiptCache] = weakref.WeakKeyDictionary()
_nonces = NonceBook()  # the nonces of answered queries (the headers' have their own book)


class InvalidSubject(DomainError):
    code, status, field = "invalid_identifier", 422, "subject.id_number"
    detail = "the ID number or credit code is not valid (its check character is verified)"


def query_log(engine: Engine) -> QueryLog:
    if engine not in _logs:
        _logs[engine] = QueryLog(engine)
    return _logs[engine]


def receipt_cache(engine: Engine) -> holder.ReceiptCache:
    if engine not in _caches:
        _caches[engine] = holder.ReceiptCache()
    return _caches[engine]


def _registry(node: Node) -> str:
    return node.chain.addresses["RecordRegistry"]


def prepare_answer(
    node: Node, query: PeerQuery, requester_address: str
) -> tuple[dict[str, Any], QueryEntry]:
    """The holder's answer to an authenticated member's query (refusals raise), and the query
    log entry to commit before the answer leaves (log_answer)."""
    return holder.prepare_answer(
        engine=node.engine, index=node.index, keys=node.keys, query=query,
        requester=requester_address, holder=node.chain.client.account.address,
        chain_id=node.chain.chain_id, registry=_registry(node), nonces=_nonces,
        cache=receipt_cache(node.engine),
    )  # fmt: skip


async def log_answer(node: Node, entry: QueryEntry) -> None:
    """Wait, without holding a thread, until the entry's group commit is done: every request
    waiting for the same commit shares it."""
    await asyncio.wrap_future(query_log(node.engine).log(entry))


async def ask_members(node: Node, body: QueryIn) -> dict[str, Any]:
    """A lender's query: every other active member asked, answers verified, summed up."""
    try:
        key = subject_key(node.keys.consortium_secret, body.subject.type, body.subject.id_number)
    except InvalidIdentifier:
        raise InvalidSubject() from None
    return await requester.query_members(
        chain=node.chain, index=node.index, log=query_log(node.engine), subject_key=key,
        consent_id=body.consent_id.lower(), purpose=body.purpose, timeout=body.timeout_s,
    )  # fmt: skip


class LoginRequired(DomainError):
    code, status, field = "login_required", 401, LOGIN_HEADER
    detail = (
        f"sign a Login (GET /v1/consents/login-typed-data) with a bound address and send it "
        f"in {LOGIN_HEADER} (the message as JSON) and {LOGIN_SIGNATURE_HEADER}"
    )


class LoginOtherSubject(DomainError):
    code, status, field = "login_other_subject", 403, "subjectKey"
    detail = "the login opens another subject's trail"


def borrower_login(
    node: Node, *, subject_key: str, message: str | None, signature: str | None
) -> None:
    """The trail is the borrower's alone: a fresh Login for this node, signed by an address
    bound to this subject now, used once (node/consents/login.py)."""
    if not message or not signature:
        raise LoginRequired()
    try:
        parsed = orjson.loads(message)
        if not isinstance(parsed, dict):
            raise ValueError("not an object")
        opened = verify_login(
            node.engine, message=parsed, signature=signature,
            node=node.chain.client.account.address, chain_id=node.chain.chain_id,
            registry=node.chain.addresses["ConsentRegistry"], max_age=node.settings.login_max_age,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        raise LoginRequired(detail=f"{LOGIN_HEADER} must hold the Login message as JSON") from None
    if opened != subject_key.lower():
        raise LoginOtherSubject()


def subject_trail(node: Node, subject_key: str) -> dict[str, Any]:
    return trails.trail(
        engine=node.engine, index=node.index, subject_key=subject_key,
        chain_id=node.chain.chain_id, registry=_registry(node),
    )  # fmt: skip


_header_nonces = NonceBook()


def authenticate(node: Node, *, headers: Any, method: str, path: str, body: bytes) -> str:
    """The requesting member's address: the request signed by it, fresh, from an active
    member (not_a_member, requester_suspended) and unreplayed."""
    return verify(
        headers=headers, method=method, path=path, body=body, chain_id=node.chain.chain_id,
        contract=node.chain.addresses["Consortium"], nonces=_header_nonces,
        admit=lambda member: holder.check_requester(index=node.index, address=member),
    )  # fmt: skip
