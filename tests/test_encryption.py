"""Envelope encryption: records open only with the right master key, aad and untouched bytes."""

import pytest

from node.crypto.encryption import (
    MASTER_KEY_BYTES,
    DecryptionError,
    Sealer,
    new_master_key,
    open_sealed,
    seal,
)

PLAINTEXT = '{"name":"张三","id_number":"11010519491231002X","amount_cents":123450}'.encode()
AAD = b"record:LN-0001-2025-06:v1"


def _flip(b: bytes, at: int) -> bytes:
    return b[:at] + bytes([b[at] ^ 0x01]) + b[at + 1 :]


def test_sealed_record_opens_with_the_same_key_and_aad() -> None:
    key = new_master_key()
    wrapped, ciphertext = seal(key, PLAINTEXT, AAD)
    assert open_sealed(key, wrapped, ciphertext, AAD) == PLAINTEXT
    sealer = Sealer(key)
    assert sealer.open(*sealer.seal(PLAINTEXT, AAD), AAD) == PLAINTEXT
    assert sealer.open(wrapped, ciphertext, AAD) == PLAINTEXT


@pytest.mark.parametrize("plaintext", [b"", b"x", bytes(range(256)) * 40])
def test_empty_and_large_plaintexts_round_trip(plaintext: bytes) -> None:
    sealer = Sealer(new_master_key())
    assert sealer.open(*sealer.seal(plaintext, b""), b"") == plaintext


def test_master_keys_are_fresh_256_bit_keys() -> None:
    keys = {new_master_key() for _ in range(100)}
    assert len(keys) == 100 and all(len(k) == MASTER_KEY_BYTES == 32 for k in keys)


def test_layout_is_nonce_plus_wrapped_key_and_nonce_plus_gcm_ciphertext() -> None:
    wrapped, ciphertext = seal(new_master_key(), PLAINTEXT, AAD)
    assert len(wrapped) == 12 + 32 + 16
    assert len(ciphertext) == 12 + len(PLAINTEXT) + 16


def test_two_seals_of_the_same_plaintext_differ() -> None:
    sealer = Sealer(new_master_key())
    (w1, c1), (w2, c2) = sealer.seal(PLAINTEXT, AAD), sealer.seal(PLAINTEXT, AAD)
    assert w1 != w2 and c1 != c2
    assert c1[:12] != c2[:12] and w1[:12] != w2[:12]


def test_plaintext_does_not_appear_in_the_sealed_bytes() -> None:
    wrapped, ciphertext = seal(new_master_key(), PLAINTEXT, AAD)
    for secret in (PLAINTEXT, b"11010519491231002X", "张三".encode(), PLAINTEXT[:8]):
        assert secret not in ciphertext and secret not in wrapped


def test_every_altered_byte_of_the_ciphertext_is_detected() -> None:
    key = new_master_key()
    wrapped, ciphertext = seal(key, PLAINTEXT, AAD)
    for at in range(len(ciphertext)):
        with pytest.raises(DecryptionError):
            open_sealed(key, wrapped, _flip(ciphertext, at), AAD)


def test_every_altered_byte_of_the_wrapped_key_is_detected() -> None:
    key = new_master_key()
    wrapped, ciphertext = seal(key, PLAINTEXT, AAD)
    for at in range(len(wrapped)):
        with pytest.raises(DecryptionError):
            open_sealed(key, _flip(wrapped, at), ciphertext, AAD)


def test_truncated_or_extended_parts_are_rejected() -> None:
    key = new_master_key()
    wrapped, ciphertext = seal(key, PLAINTEXT, AAD)
    for w, c in [
        (wrapped[:-1], ciphertext),
        (wrapped + b"\x00", ciphertext),
        (wrapped, ciphertext[:-1]),
        (wrapped, ciphertext + b"\x00"),
        (wrapped, ciphertext[:27]),
        (b"", b""),
    ]:
        with pytest.raises(DecryptionError):
            open_sealed(key, w, c, AAD)


@pytest.mark.parametrize("aad", [b"", b"record:LN-0001-2025-06:v2", AAD + b"\x00", AAD[:-1]])
def test_wrong_aad_is_rejected(aad: bytes) -> None:
    key = new_master_key()
    wrapped, ciphertext = seal(key, PLAINTEXT, AAD)
    with pytest.raises(DecryptionError):
        open_sealed(key, wrapped, ciphertext, aad)


def test_wrong_master_key_is_rejected() -> None:
    wrapped, ciphertext = seal(new_master_key(), PLAINTEXT, AAD)
    with pytest.raises(DecryptionError):
        open_sealed(new_master_key(), wrapped, ciphertext, AAD)


def test_parts_of_two_seals_cannot_be_mixed() -> None:
    sealer = Sealer(new_master_key())
    w1, c1 = sealer.seal(PLAINTEXT, AAD)
    w2, c2 = sealer.seal(PLAINTEXT, AAD)
    with pytest.raises(DecryptionError):
        sealer.open(w1, c2, AAD)
    with pytest.raises(DecryptionError):
        sealer.open(w2, c1, AAD)


def test_errors_carry_no_key_material() -> None:
    key = new_master_key()
    wrapped, ciphertext = seal(key, PLAINTEXT, AAD)
    with pytest.raises(DecryptionError) as info:
        open_sealed(key, wrapped, _flip(ciphertext, 20), AAD)
    text = str(info.value) + repr(info.value)
    for secret in (key, wrapped, ciphertext, PLAINTEXT):
        assert secret.hex() not in text and repr(secret) not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(ValueError) as bad_key:
        Sealer(key[:16])
    assert key[:16].hex() not in str(bad_key.value)


def test_sealer_does_not_show_its_key() -> None:
    key = new_master_key()
    sealer = Sealer(key)
    assert key.hex() not in repr(sealer) and not hasattr(sealer, "__dict__")


@pytest.mark.parametrize("size", [0, 16, 24, 31, 33, 64])
def test_master_key_must_be_32_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer(bytes(size))


def test_keyed_hash_is_hmac_sha256_for_short_and_long_keys():
    import hashlib
    import hmac

    from node.crypto.mac import KeyedHash

    for key in (b"", b"k", b"\x01" * 32, b"\x02" * 64, b"\x03" * 65, bytes(range(200))):
        keyed = KeyedHash(key)
        for message in (b"", b"P:11010519491231002X", bytes(range(256)) * 5):
            assert keyed.digest(message) == hmac.new(key, message, hashlib.sha256).digest()
    secret = b"do-not-print-me"
    assert "do-not-print-me" not in repr(KeyedHash(secret))
    assert secret.hex() not in repr(KeyedHash(secret))
