"""HMAC-SHA256 with the key's pads hashed once (RFC 2104), for the per-record hot path.

`hmac.digest` re-derives the pads on every call; a record takes two MACs (its subject key
and its content MAC), so keeping the padded states and copying them saves most of the cost.
"""

import hashlib

_BLOCK = 64


class KeyedHash:
    """HMAC-SHA256 under one key. Holds key-derived state: never print or log it."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def __repr__(self) -> str:
        return "KeyedHash(<key hidden>)"
