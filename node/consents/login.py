"""A borrower's login, for what only the borrower may see (their trail): no password and no
staff token, but a fresh EIP-712 `Login(bytes32 subjectKey,address node,uint64 issuedAt,
bytes32 nonce)` signed by an address bound to the subject, for this node, used once.

The domain is the consents' (verifyingContract = the ConsentRegistry), so a wallet shows it as
creditchain's. Naming the node keeps a login given to one member's node from opening another's.
"""

import time
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy.exc import IntegrityError

from node.consents import errors
from node.consents.service import Source, current_binding, engine_of
from node.crypto import eip712
from node.db import read_connection, write_transaction

MAX_AGE = 300.0  # seconds a login stays fresh, by default
CLOCK_SKEW = 60.0  # seconds a borrower's clock may run ahead of the node's


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
    """The subject key the login opens; or LoginForged (not signed for this node), LoginStale
    (issuedAt more than `max_age` s old, or ahead of the clock), LoginUnbound (the signer is
    not bound to the subject now) or LoginReplayed (its nonce was used)."""
    now = time.time() if now is None else now
    try:
        data = eip712.login_typed_data(message, eip712.domain(chain_id, registry))
        signer = eip712.recover(data, signature)
    except (eip712.InvalidSignature, KeyError, TypeError, ValueError):
        raise errors.LoginForged("malformed") from None
    if to_checksum_address(message["node"]) != to_checksum_address(node):
        raise errors.LoginForged("for another node", field="node")
    issued_at = int(message["issuedAt"])
    if not now - max_age <= issued_at <= now + CLOCK_SKEW:
        raise errors.LoginStale(str(issued_at))
    subject_key = str(message["subjectKey"]).lower()
    engine = engine_of(source)
    with read_connection(engine) as conn:
        binding = current_binding(conn, signer)
    if binding is None or binding["subject_key"] != subject_key:
        raise errors.LoginUnbound(signer)
    nonce = str(message["nonce"]).lower()
    try:
        with write_transaction(engine) as conn:
            conn.exec_driver_sql(
                "DELETE FROM login_nonce WHERE used_at < ?", (now - max_age - 2 * CLOCK_SKEW,)
            )
            conn.exec_driver_sql(
                "INSERT INTO login_nonce (nonce, subject_key, used_at) VALUES (?, ?, ?)",
                (nonce, subject_key, now),
            )
    except IntegrityError:
        raise errors.LoginReplayed(nonce) from None
    return subject_key
