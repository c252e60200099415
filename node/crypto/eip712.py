"""EIP-712 typed data, as wallets show and sign it (eth_signTypedData_v4).

A borrower signs with whatever wallet they have, so the node hands out exactly the JSON a
wallet signs: `types` (with EIP712Domain), `primaryType`, `domain`, `message`. Integers travel
as JSON numbers, except those a JavaScript number cannot hold exactly (2**53 and beyond), which
travel as decimal strings; wallets take both.
The digest of a message is what a contract recovers the signer from, and what a consent is
known by (its id).
"""

import functools
from typing import Any

import coincurve
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_keys.exceptions import BadSignature
from eth_utils import keccak, to_checksum_address

NAME, VERSION = "creditchain", "1"
DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
CONSENT_FIELDS = [
    {"name": "subjectKey", "type": "bytes32"},
    {"name": "grantee", "type": "address"},
    {"name": "purpose", "type": "uint8"},
    {"name": "validFrom", "type": "uint64"},
    {"name": "validUntil", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
]
REVOCATION_FIELDS = [{"name": "consentId", "type": "bytes32"}]
LOGIN_FIELDS = [
    {"name": "subjectKey", "type": "bytes32"},
    {"name": "node", "type": "address"},
    {"name": "issuedAt", "type": "uint64"},
    {"name": "nonce", "type": "bytes32"},
]
OBJECTION_FIELDS = [
    {"name": "subjectKey", "type": "bytes32"},
    {"name": "kind", "type": "uint8"},
    {"name": "target", "type": "bytes32"},
    {"name": "reasonsHash", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
]
# JavaScript numbers are exact below 2**53: larger integers are handed out as decimal strings
_SAFE = 2**53


class InvalidSignature(ValueError):
    """Not a signature any key could have made of this message."""


def domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    return {
        "name": NAME,
        "version": VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def typed_data(
    primary_type: str, fields: list[dict[str, str]], message: dict[str, Any], dom: dict[str, Any]
) -> dict[str, Any]:
    """The eth_signTypedData_v4 JSON of one struct: each value in the form wallets take."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, primary_type: fields},
        "primaryType": primary_type,
        "domain": dom,
        "message": {f["name"]: _wallet_value(f["type"], message[f["name"]]) for f in fields},
    }


def _wallet_value(type_str: str, value: Any) -> Any:
    if type_str == "address":
        return to_checksum_address(value)
    if type_str.startswith(("uint", "int")):
        number = int(value)
        return number if abs(number) < _SAFE else str(number)
    if type_str.startswith("bytes") and isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def consent_typed_data(message: dict[str, Any], dom: dict[str, Any]) -> dict[str, Any]:
    return typed_data("Consent", CONSENT_FIELDS, message, dom)


def revocation_typed_data(consent_id: str, dom: dict[str, Any]) -> dict[str, Any]:
    return typed_data("Revocation", REVOCATION_FIELDS, {"consentId": consent_id}, dom)


def objection_typed_data(message: dict[str, Any], dom: dict[str, Any]) -> dict[str, Any]:
    """An objection (kind 0: a record commitment, 1: a blacklist entry id as bytes32)."""
    return typed_data("Objection", OBJECTION_FIELDS, message, dom)


def login_typed_data(message: dict[str, Any], dom: dict[str, Any]) -> dict[str, Any]:
    return typed_data("Login", LOGIN_FIELDS, message, dom)


def report_typed_data(message: dict[str, Any], dom: dict[str, Any]) -> dict[str, Any]:
    """ReportRequest(subjectKey, node, issuedAt, nonce): the Login's fields under its own
    name, so that a wallet shows the borrower they are asking for their report (which the
    named node gathers from every member), and no login can be taken for one."""
    return typed_data("ReportRequest", LOGIN_FIELDS, message, dom)


def _signable(data: dict[str, Any]) -> SignableMessage:
    return encode_typed_data(full_message=data)


def digest(data: dict[str, Any]) -> bytes:
    """keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)): what is signed."""
    s = _signable(data)
    return keccak(b"\x19" + s.version + s.header + s.body)


def sign(data: dict[str, Any], private_key: Any) -> str:
    """A 65-byte signature (r ‖ s ‖ v, v 27 or 28) as 0x-hex, as wallets return it."""
    signed = Account.sign_message(_signable(data), private_key)
    return "0x" + bytes(signed.signature).hex()


def recover(data: dict[str, Any], signature: str | bytes) -> str:
    """The checksummed address that signed `data`; InvalidSignature if none could have."""
    raw = _signature_bytes(signature)
    try:
        return str(Account.recover_message(_signable(data), signature=raw))
    except (BadSignature, ValueError) as err:
        raise InvalidSignature(str(err)) from None


def recover_digest(digest: bytes, signature: str | bytes) -> str:
    """The checksummed address that signed the 32-byte `digest` (keccak256(0x19 0x01 ‖ ...));
    InvalidSignature if none could have. libsecp256k1 directly: the general path through
    eth_account costs a node more than the recovery itself on every signed request."""
    raw = _signature_bytes(signature)
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            raw[:64] + bytes([raw[64] - 27]), digest, hasher=None
        )
    except Exception as err:  # not a point on the curve, r or s out of range
        raise InvalidSignature(type(err).__name__) from None
    return checksum(keccak(public.format(compressed=False)[1:])[12:])


@functools.lru_cache(maxsize=4096)
def checksum(address: str | bytes) -> str:
    """EIP-55 checksummed form of an address (20 bytes or hex), remembered: the same few
    members' addresses are checksummed on every request between nodes."""
    return str(to_checksum_address(address))


_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def _signature_bytes(signature: str | bytes) -> bytes:
    """65 bytes, low s, v 27/28 (or 0/1): the same signatures the contracts accept."""
    if isinstance(signature, str):
        text = signature.removeprefix("0x")
        try:
            signature = bytes.fromhex(text)
        except ValueError:
            raise InvalidSignature("not hex") from None
    if len(signature) != 65:
        raise InvalidSignature("a signature is 65 bytes")
    if int.from_bytes(signature[32:64], "big") > _HALF_ORDER:
        raise InvalidSignature("high s")
    v = signature[64]
    if v < 27:
        v += 27
    if v not in (27, 28):
        raise InvalidSignature("v is 27 or 28")
    return signature[:64] + bytes([v])
