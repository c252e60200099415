"""Signed requests between member nodes (EIP-712).

A node signs each request to another member's node with its member key over the method,
path, body hash, time and a fresh nonce; the receiving node recovers the signer, checks that
the request is fresh and its nonce unused, and looks up in its event index whether the
signer is an active member now. A suspended or removed member's node is refused, whatever
it signs.
"""

import functools
import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from eth_account.messages import SignableMessage
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.crypto import eip712
from node.errors import DomainError

MAX_SKEW = 60  # seconds a request's timestamp may be off
HEADERS = ("x-creditchain-member", "x-creditchain-timestamp", "x-creditchain-nonce",
           "x-creditchain-signature")  # fmt: skip
_TYPES = {
    "PeerRequest": [
        {"name": "member", "type": "address"},
        {"name": "method", "type": "string"},
        {"name": "path", "type": "string"},
        {"name": "bodyHash", "type": "bytes32"},
        {"name": "timestamp", "type": "uint64"},
        {"name": "nonce", "type": "bytes32"},
    ]
}


class PeerRefused(DomainError):
    """A request from another node that this node will not serve."""

    code, status, detail = "peer_refused", 401, "this node will not serve the request"


class UnsignedRequest(PeerRefused):
    code, detail = "unsigned_request", "a request between nodes must be signed"


class BadSignature(PeerRefused):
    code, detail = "bad_signature", "the request's signature does not check"


class StaleRequest(PeerRefused):
    code, detail = "stale_request", f"request time is more than {MAX_SKEW}s off"


class ReplayedRequest(PeerRefused):
    code, detail = "replayed_request", "this request was seen before"


class NotAnActiveMember(PeerRefused):
    code, status = "not_an_active_member", 403

    def __init__(self, member: str) -> None:
        super().__init__(member, detail=f"{member} is not an active member")


def _type_hash(name: str, fields: list[dict[str, str]]) -> bytes:
    return keccak(text=f"{name}(" + ",".join(f"{f['type']} {f['name']}" for f in fields) + ")")


_DOMAIN_TYPE = _type_hash("EIP712Domain", eip712.DOMAIN_FIELDS)
_REQUEST_TYPE = _type_hash("PeerRequest", _TYPES["PeerRequest"])


@functools.lru_cache(maxsize=16)
def _domain_separator(chain_id: int, contract: str) -> bytes:
    return keccak(
        _DOMAIN_TYPE + keccak(text=eip712.NAME) + keccak(text=eip712.VERSION)
        + chain_id.to_bytes(32, "big") + bytes(12) + bytes.fromhex(contract[2:])
    )  # fmt: skip


@functools.lru_cache(maxsize=64)
def _text_hash(text: str) -> bytes:
    """keccak256 of a method or path: a node is asked the same few, over and over."""
    return keccak(text=text)


def _typed(chain_id: int, contract: str, message: dict[str, Any]) -> SignableMessage:
    """The EIP-712 message to sign, hashed here by the standard's rules rather than by
    eth_account's general encoder, which costs a node more than the signature check itself
    on every request (tests/test_queries.py checks that the two agree)."""
    member = bytes.fromhex(message["member"].removeprefix("0x"))
    nonce = bytes(message["nonce"])
    if len(member) != 20 or len(nonce) != 32:
        raise ValueError("member is 20 bytes, nonce 32")
    struct = keccak(
        _REQUEST_TYPE + bytes(12) + member + _text_hash(message["method"])
        + _text_hash(message["path"]) + message["bodyHash"]
        + message["timestamp"].to_bytes(32, "big") + nonce
    )  # fmt: skip
    return SignableMessage(b"\x01", _domain_separator(chain_id, contract.lower()), struct)


def signed_headers(
    account: LocalAccount, *, chain_id: int, contract: str, method: str, path: str, body: bytes
) -> dict[str, str]:
    """The headers that make a request to another member's node."""
    nonce = secrets.token_bytes(32)
    timestamp = int(time.time())
    message = {
        "member": account.address, "method": method.upper(), "path": path,
        "bodyHash": hashlib.sha256(body).digest(), "timestamp": timestamp, "nonce": nonce,
    }  # fmt: skip
    signature = account.sign_message(_typed(chain_id, contract, message)).signature
    return {
        "X-Creditchain-Member": account.address,
        "X-Creditchain-Timestamp": str(timestamp),
        "X-Creditchain-Nonce": "0x" + nonce.hex(),
        "X-Creditchain-Signature": "0x" + signature.hex(),
    }


class NonceBook:
    """Nonces seen within the freshness window: a replayed request is refused. Each claim
    forgets the nonces whose window has passed, oldest first, so a claim costs the same
    however many requests the window holds."""

    def __init__(self) -> None:
        self._seen: dict[bytes, float] = {}
        self._order: deque[tuple[float, bytes]] = deque()  # (expiry, nonce), as claimed
        self._lock = threading.Lock()

    def claim(self, nonce: bytes, now: float) -> bool:
        with self._lock:
            while self._order and self._order[0][0] <= now:
                expiry, old = self._order.popleft()
                if self._seen.get(old) == expiry:
                    del self._seen[old]
            if self._seen.get(nonce, 0) > now:
                return False
            expiry = now + 2 * MAX_SKEW
            self._seen[nonce] = expiry
            self._order.append((expiry, nonce))
            return True

    def __len__(self) -> int:
        return len(self._seen)


def verify(
    *,
    headers: Any,
    method: str,
    path: str,
    body: bytes,
    chain_id: int,
    contract: str,
    nonces: NonceBook,
    admit: Callable[[str], None],
    now: float | None = None,
) -> str:
    """The signer's address if the request is signed, fresh, from a signer `admit` lets in
    (it raises otherwise: the caller asks its event index whether that member is active),
    and unreplayed. The nonce is claimed last, so a stranger's key, which costs nothing to
    make, never adds to the nonces held."""
    now = time.time() if now is None else now
    values = [headers.get(h) for h in HEADERS]
    if not all(values):
        raise UnsignedRequest()
    member, stamp, nonce_hex, signature = values
    try:
        timestamp = int(stamp)
        nonce = bytes.fromhex(nonce_hex.removeprefix("0x"))
        message = {
            "member": member, "method": method.upper(), "path": path,
            "bodyHash": hashlib.sha256(body).digest(), "timestamp": timestamp, "nonce": nonce,
        }  # fmt: skip
        typed = _typed(chain_id, contract, message)
        signer = eip712.recover_digest(
            keccak(b"\x19" + typed.version + typed.header + typed.body), signature
        )
    except Exception:
        raise BadSignature() from None
    if len(nonce) != 32 or signer.lower() != member.lower():
        raise BadSignature()
    if abs(now - timestamp) > MAX_SKEW:
        raise StaleRequest()
    admit(signer)
    if not nonces.claim(nonce, now):
        raise ReplayedRequest()
    return signer
