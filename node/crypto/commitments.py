"""Record commitments: what the chain holds instead of the record.

`sha256(salt || canonical record)` hides the record (the 32-byte random salt defeats guessing
a low-entropy record) and binds the member to it (SHA-256 is collision resistant). The salt
stays off chain and goes with the record to whoever may see it, so they can recompute.
"""

from __future__ import annotations

import hashlib
import secrets

from node.crypto.hexutil import from_hex, to_hex

__all__ = ["SALT_BYTES", "commitment", "from_hex", "new_salt", "to_hex"]

SALT_BYTES = 32


def new_salt() -> bytes:
    """Return a fresh 32-byte salt from the OS CSPRNG."""
    return secrets.token_bytes(SALT_BYTES)


def commitment(salt: bytes, canonical: bytes) -> bytes:
    """Return sha256(salt || canonical), 32 bytes; `canonical` is the record's JCS bytes.

    The salt length is fixed so that salt and record cannot trade bytes across the boundary.
    """
    if len(salt) != SALT_BYTES:
        raise ValueError(f"salt must be {SALT_BYTES} bytes")
    return hashlib.sha256(salt + canonical).digest()
