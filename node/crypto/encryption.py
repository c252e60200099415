"""Envelope encryption at rest, so that deleting one small key deletes one record.

Each record is encrypted under its own fresh 256-bit data key (AES-256-GCM), and the data key
is stored wrapped under the node's master key. Erasing the wrapped key makes every copy of
the ciphertext that travelled without it unreadable (crypto-shredding), which is how expired
or wrongly held data is erased without rewriting history. A backup taken before the erasure
holds the wrapped key and the master key too: it stays readable until it is destroyed.

Both layers bind `aad` (say, the record id and version), so a ciphertext moved to another row
does not open. Layout: wrapped key = nonce(12) || GCM(data key) (60 bytes);
ciphertext = nonce(12) || GCM(plaintext). Nonces are random: one master key should seal fewer
than 2**32 records (NIST SP 800-38D) before the master key is rotated.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "MASTER_KEY_BYTES",
    "DecryptionError",
    "Sealer",
    "new_master_key",
    "open_sealed",
    "seal",
]

MASTER_KEY_BYTES = 32
_DATA_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_WRAPPED_BYTES = _NONCE_BYTES + _DATA_KEY_BYTES + _TAG_BYTES
# Separates key wrapping from anything else the master key might ever encrypt.
_WRAP_LABEL = b"creditchain/data-key/v1\x00"


class DecryptionError(Exception):
    """A sealed record did not open: wrong key, wrong aad, or altered bytes. Says no more."""


def new_master_key() -> bytes:
    """Return a fresh 256-bit master key from the OS CSPRNG."""
    return os.urandom(MASTER_KEY_BYTES)


class Sealer:
    """Seals and opens records under one master key; holds the key schedule so it is set up once."""

    __slots__ = ("_kek",)

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise ValueError(f"master key must be {MASTER_KEY_BYTES} bytes")
        self._kek = AESGCM(master_key)

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """Encrypt under a fresh data key; return (wrapped data key, ciphertext)."""
        data_key = os.urandom(_DATA_KEY_BYTES)
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
        wrap_nonce = os.urandom(_NONCE_BYTES)
        wrapped = wrap_nonce + self._kek.encrypt(wrap_nonce, data_key, _WRAP_LABEL + aad)
        return wrapped, ciphertext

    def open(self, wrapped_data_key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """Decrypt what `seal` returned; raise DecryptionError if anything does not match."""
        if len(wrapped_data_key) != _WRAPPED_BYTES or len(ciphertext) < _NONCE_BYTES + _TAG_BYTES:
            raise DecryptionError("sealed record is malformed")
        try:
            data_key = self._kek.decrypt(
                wrapped_data_key[:_NONCE_BYTES], wrapped_data_key[_NONCE_BYTES:], _WRAP_LABEL + aad
            )
            return AESGCM(data_key).decrypt(
                ciphertext[:_NONCE_BYTES], ciphertext[_NONCE_BYTES:], aad
            )
        except InvalidTag:
            raise DecryptionError(
                "sealed record did not authenticate (wrong key, wrong aad or altered data)"
            ) from None


def seal(master_key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """One-off `Sealer(master_key).seal(...)`; keep a Sealer for many records."""
    return Sealer(master_key).seal(plaintext, aad)


def open_sealed(master_key: bytes, wrapped_data_key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """One-off `Sealer(master_key).open(...)`; raises DecryptionError on any mismatch."""
    return Sealer(master_key).open(wrapped_data_key, ciphertext, aad)
