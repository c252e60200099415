"""A borrower's login, for what only the borrower may see (their trail): no password and no
staff token, but a fresh EIP-712 `Login(bytes32 subjectKey,address node,uint64 issuedAt,
bytes32 nonce)` signed by an address bound to the subject, for this node, used once.

The domain is the consents' (verifyingContract = the ConsentRegistry), so a wallet shows it as
creditchain's. Naming the node keeps a login given to one member's node from opening another's.
"""

import time
from collections.abc import Callable
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from node.consents import errors
from node.consents.service import Source, current_binding, engine_of
from node.crypto import eip712
from node.db import read_connection, write_transaction

MAX_AGE = 300.0  # seconds a login stays fresh, by default
CLOCK_SKEW = 60.0  # seconds a borrower's clock may run ahead of the node's


def check_login(
    source: Source,
    *,
    message: dict[str, Any],
    signature: str,
    node: str,
    chain_id: int,
    registry: str,
    now: float | None = None,
    max_age: float = MAX_AGE,
    typed: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] = eip712.login_typed_data,
) -> tuple[str, str]:
    """Every check of a signed borrower message but its nonce: the subject key it opens and
    its nonce (to claim with `claim_nonce`); or LoginForged (not signed for this node),
    LoginStale (issuedAt more than `max_age` s old, or ahead of the clock) or LoginUnbound
    (the signer is not bound to the subject now). `typed` makes the message's typed data:
    a Login's by default, a ReportRequest's for the borrower's report."""
    now = time.time() if now is None else now
    try:
        data = typed(message, eip712.domain(chain_id, registry))
        signer = eip712.recover(data, signature)
    except (eip712.InvalidSignature, KeyError, TypeError, ValueError):
        raise errors.LoginForged("malformed") from None
    if to_checksum_address(message["node"]) != to_checksum_address(node):
        raise errors.LoginForged("for another node", field="node")
    issued_at = int(message["issuedAt"])
    if not now - max_age <= issued_at <= now + CLOCK_SKEW:
        raise errors.LoginStale(str(issued_at))
    subject_key = str(message["subjectKey"]).lower()
    with read_connection(engine_of(source)) as conn:
        binding = current_binding(conn, signer)
    if binding is None or binding["subject_key"] != subject_key:
        raise errors.LoginUnbound(signer)
    return subject_key, str(message["nonce"]).lower()


def claim_nonce(
    conn: Connection, *, nonce: str, subject_key: str, now: float, max_age: float = MAX_AGE
) -> None:
    """The nonce marked used, in the caller's write transaction (which then lands with what
    the message was for, or not at all); LoginReplayed if it was used already."""
    conn.exec_driver_sql(
        "DELETE FROM login_nonce WHERE used_at < ?", (now - max_age - 2 * CLOCK_SKEW,)
    )
    used = conn.exec_driver_sql("SELECT 1 FROM login_nonce WHERE nonce = ?", (nonce,)).first()
    if used is not None:
        raise errors.LoginReplayed(nonce)
    try:
        conn.exec_driver_sql(
            "INSERT INTO login_nonce (nonce, subject_key, used_at) VALUES (?, ?, ?)",
            (nonce, subject_key, now),
        )
    except IntegrityError:
        raise errors.LoginReplayed(nonce) from None


def verify_login(
    source: Source,
    *,
    message: dict[str, Any],
    signature: str,
    node: str,
    chain_id: int,
    registry: str,
    now: float | None = None,
    max_age: float = MAX_AGE,
) -> str:
    """The subject key the login opens; or LoginForged, LoginStale, LoginUnbound (see
    check_login) or LoginReplayed (its nonce was used)."""
    now = time.time() if now is None else now
    subject_key, nonce = check_login(source, message=message, signature=signature, node=node,
                                     chain_id=chain_id, registry=registry, now=now,
                                     max_age=max_age)  # fmt: skip
    with write_transaction(engine_of(source)) as conn:
        claim_nonce(conn, nonce=nonce, subject_key=subject_key, now=now, max_age=max_age)
    return subject_key
