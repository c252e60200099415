"""Hex as it appears on the wire: lowercase with "0x", as Ethereum tools write bytes32."""

from __future__ import annotations

import re

__all__ = ["from_hex", "to_hex"]

_HEX = re.compile(r"(?:0[xX])?((?:[0-9a-fA-F]{2})*)")


def to_hex(b: bytes) -> str:
    """Return "0x" + lowercase hex."""
    return "0x" + b.hex()


def from_hex(s: str, *, size: int | None = None) -> bytes:
    """Parse hex with or without "0x"; refuse anything else, including the whitespace
    `bytes.fromhex` would let through, and, when `size` is given, any other length in bytes."""
    m = _HEX.fullmatch(s) if isinstance(s, str) else None
    if m is None:
        raise ValueError("not a hex string (an even number of 0-9a-f digits, optional 0x)")
    b = bytes.fromhex(m.group(1))
    if size is not None and len(b) != size:
        raise ValueError(f"expected {size} bytes of hex, got {len(b)}")
    return b
