"""The node's own secrets: member key, master key for data at rest, consortium secret.

Each is an eth-account keystore (v3: scrypt, AES-128-CTR, MAC) under the keys directory:
`member.json`, `master.json`, `consortium.json`, all unlocked by one password taken from
CREDITCHAIN_KEY_PASSWORD, or the file CREDITCHAIN_KEY_PASSWORD_FILE names, or else
`keys/password`, which a node writes when it creates its keys with no password given, so that
a first start needs nothing typed. scrypt's cost is n = 2**15 (about 0.1 s a key), or
CREDITCHAIN_KDF_N. Plain hex files of earlier versions (`member.key`, `master.key`,
`consortium.secret`) are read and turned into keystores at the next start, then removed.

Neither a key nor the password is ever logged or put in an error message: errors name the
file and what is wrong with it, nothing else.
"""

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keyfile import create_keyfile_json, decode_keyfile_json
from eth_utils import to_checksum_address

from node.files import write_atomically

log = logging.getLogger("creditchain.keys")

PASSWORD_ENV = "CREDITCHAIN_KEY_PASSWORD"
PASSWORD_FILE_ENV = "CREDITCHAIN_KEY_PASSWORD_FILE"
KDF_N_ENV = "CREDITCHAIN_KDF_N"
KDF_N_DEFAULT = 2**15
PASSWORD_FILE = "password"

# secp256k1's group order: a private key is a value in [1, order), whatever it is for
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class KeystoreError(Exception):
    """A key cannot be read, unlocked or written. The message names files, never contents."""


@dataclass(frozen=True)
class NodeSecrets:
    member: LocalAccount
    master_key: bytes
    consortium_secret: bytes

    def __repr__(self) -> str:  # never print key material, even by accident
        return f"NodeSecrets(member={self.member.address})"


@dataclass(frozen=True)
class Slot:
    """One secret: its keystore, the plain file of earlier versions, the variable naming a file
    kept elsewhere (used as it is: never created, migrated or removed by the node)."""

    what: str
    keystore: str
    legacy: str
    env: str


MEMBER = Slot("member key", "member.json", "member.key", "CREDITCHAIN_MEMBER_KEY_FILE")
MASTER = Slot("master key", "master.json", "master.key", "CREDITCHAIN_MASTER_KEY_FILE")
CONSORTIUM = Slot(
    "consortium secret",
    "consortium.json",
    "consortium.secret",
    "CREDITCHAIN_CONSORTIUM_SECRET_FILE",
)
SLOTS = (MEMBER, MASTER, CONSORTIUM)


@dataclass(frozen=True)
class Password:
    value: bytes
    source: str  # where it came from, for messages

    def __repr__(self) -> str:
        return f"Password(from {self.source})"


# --- the password --------------------------------------------------------------------------


def find_password(keys_dir: Path) -> Password | None:
    """The password from the environment, its file, or keys/password; None if none is set."""
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return Password(value.encode(), PASSWORD_ENV)
    named = os.environ.get(PASSWORD_FILE_ENV)
    if named:
        return _password_from(Path(named), f"{PASSWORD_FILE_ENV} ({named})")
    local = keys_dir / PASSWORD_FILE
    if local.exists():
        return _password_from(local, str(local))
    return None


def _password_from(path: Path, source: str) -> Password:
    try:
        text = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as err:
        raise KeystoreError(f"cannot read the password file {path}: {type(err).__name__}") from None
    if not text:
        raise KeystoreError(f"the password file {path} is empty")
    return Password(text.encode(), source)


def new_password(keys_dir: Path) -> Password:
    """A random password in keys/password, for a node started with none: fine on a laptop,
    but in production the password belongs outside the data directory."""
    path = keys_dir / PASSWORD_FILE
    value = secrets.token_urlsafe(32)
    _write_private(path, value + "\n")
    log.warning(
        "no key password given: generated one in %s. In production keep the password outside "
        "the data directory: move that file elsewhere and set %s to it (or set %s)",
        path,
        PASSWORD_FILE_ENV,
        PASSWORD_ENV,
    )
    return Password(value.encode(), str(path))


def kdf_n() -> int:
    """scrypt's cost parameter n for new keystores: CREDITCHAIN_KDF_N or 2**15."""
    text = os.environ.get(KDF_N_ENV)
    if not text:
        return KDF_N_DEFAULT
    try:
        n = int(text, 0)
    except ValueError:
        n = 0
    if n < 2 or n & (n - 1):
        raise KeystoreError(f"{KDF_N_ENV} must be a power of two, at least 2 (default 2**15)")
    return n


# --- keystore files ------------------------------------------------------------------------


def encrypt(value: bytes, password: Password, slot: Slot) -> dict[str, Any]:
    """A v3 keystore of `value`. Only the member key's names its address: the others are no
    accounts, and their address would only invite mistaking them for one."""
    if len(value) != 32 or not 0 < int.from_bytes(value, "big") < SECP256K1_ORDER:
        raise KeystoreError(f"the {slot.what} must be 32 random bytes")
    keystore = create_keyfile_json(value, password.value, kdf="scrypt", iterations=kdf_n())
    if slot is not MEMBER:
        del keystore["address"]
    return keystore


def unlock(path: Path, password: Password | None) -> bytes:
    """The value a keystore file holds; KeystoreError for a wrong password or a bad file."""
    keystore = _read_keystore(path)
    if password is None:
        raise KeystoreError(
            f"cannot unlock {path}: no password (set {PASSWORD_ENV} or {PASSWORD_FILE_ENV})"
        )
    try:
        value = decode_keyfile_json(keystore, password.value)
    except Exception as err:  # its message is dropped: only ours, naming the file, goes on
        wrong = isinstance(err, ValueError) and "MAC mismatch" in str(err)
        reason = f"wrong password (from {password.source})" if wrong else "not a keystore"
        raise KeystoreError(f"cannot unlock {path}: {reason}") from None
    if len(value) != 32:
        raise KeystoreError(f"cannot unlock {path}: it does not hold 32 bytes")
    return value


def _read_keystore(path: Path) -> dict[str, Any]:
    try:
        keystore = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise KeystoreError(f"cannot read {path}: {type(err).__name__}") from None
    except ValueError:
        raise KeystoreError(f"cannot read {path}: not an eth-account keystore") from None
    if not isinstance(keystore, dict) or "crypto" not in keystore:
        raise KeystoreError(f"cannot read {path}: not an eth-account keystore")
    return keystore


def read_hex(path: Path, what: str) -> bytes:
    """32 bytes from a plain hex file (the layout of earlier versions, or a shared secret)."""
    try:
        text = path.read_text(encoding="utf-8").strip().removeprefix("0x")
    except (OSError, UnicodeDecodeError) as err:
        raise KeystoreError(f"cannot read {path}: {type(err).__name__}") from None
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise KeystoreError(f"{path} does not hold the {what} as hex") from None
    if len(value) != 32:
        raise KeystoreError(f"{path} must hold the {what} as 32 bytes of hex")
    return value


def _read_any(path: Path, password: Password | None, slot: Slot) -> bytes:
    """A file named by an environment variable: a keystore, or plain hex."""
    try:
        head = path.read_bytes().lstrip()[:1]
    except OSError as err:
        raise KeystoreError(
            f"cannot read {path}, named by {slot.env}: {type(err).__name__}"
        ) from None
    if head == b"{":
        return unlock(path, password)
    if slot is not CONSORTIUM:
        log.warning(
            "%s names a plain key file (%s); `creditchain keys new` makes an encrypted one",
            slot.env,
            path,
        )
    return read_hex(path, slot.what)


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by this user only."""
    write_atomically(path, text, private=True)


def _store(keys_dir: Path, slot: Slot, value: bytes, password: Password) -> None:
    _write_private(keys_dir / slot.keystore, json.dumps(encrypt(value, password, slot)) + "\n")


def _random_secret() -> bytes:
    while True:
        value = secrets.token_bytes(32)
        if 0 < int.from_bytes(value, "big") < SECP256K1_ORDER:
            return value


def _has_keystores(keys_dir: Path) -> bool:
    return any((keys_dir / s.keystore).exists() for s in SLOTS)


def has_keys(keys_dir: Path) -> bool:
    """Whether the keys directory holds any key, as a keystore or a plain file."""
    return any((keys_dir / name).exists() for s in SLOTS for name in (s.keystore, s.legacy))


# --- loading and creating ------------------------------------------------------------------


def _load(keys_dir: Path, slot: Slot, password: Password | None) -> bytes | None:
    """One secret, migrating a plain file into a keystore; None if there is neither."""
    override = os.environ.get(slot.env)
    if override:
        return _read_any(Path(override), password, slot)
    store, legacy = keys_dir / slot.keystore, keys_dir / slot.legacy
    if store.exists():
        value = unlock(store, password)
        if legacy.exists():  # a migration cut short between writing one and removing the other
            if read_hex(legacy, slot.what) != value:
                raise KeystoreError(
                    f"{store} and {legacy} both exist and hold different keys: "
                    "keep the right one, remove the other"
                )
            legacy.unlink()
        return value
    if not legacy.exists():
        return None
    value = read_hex(legacy, slot.what)
    if password is not None:
        _store(keys_dir, slot, value, password)
        legacy.unlink()
        log.info("moved the %s from %s into the keystore %s", slot.what, legacy, store)
    return value


def load_secrets(keys_dir: Path, *, create: bool = True) -> NodeSecrets:
    """Unlock the node's secrets; in a keys directory with none yet, create them if `create`."""
    password = find_password(keys_dir)
    if create and not has_keys(keys_dir):
        values = _make(keys_dir, password or new_password(keys_dir), None)
    else:
        if password is None and create and not _has_keystores(keys_dir):
            password = new_password(keys_dir)  # plain files of an earlier version to migrate
        values = {}
        for slot in SLOTS:
            value = _load(keys_dir, slot, password)
            if value is None:
                raise KeystoreError(
                    f"{keys_dir / slot.keystore} is missing: restore it from a backup, or "
                    f"`creditchain keys new --data {keys_dir.parent} --force` to start afresh"
                )
            values[slot] = value
    return NodeSecrets(Account.from_key(values[MEMBER]), values[MASTER], values[CONSORTIUM])


def make_keys(
    keys_dir: Path, *, consortium_secret: bytes | None = None, force: bool = False
) -> tuple[str, Password]:
    """New keystores for the member key, master key and consortium secret (random unless
    given); refuses to replace keys unless `force`. Returns the member address and password."""
    if has_keys(keys_dir) and not force:
        raise KeystoreError(
            f"{keys_dir} already holds keys; --force replaces them, "
            "and the records in the node's store can then no longer be read"
        )
    password = find_password(keys_dir) or new_password(keys_dir)
    local = keys_dir / PASSWORD_FILE
    if local.exists() and password.source != str(local):
        local.unlink()  # a password file of the replaced keys would only mislead the next start
    values = _make(keys_dir, password, consortium_secret)
    return Account.from_key(values[MEMBER]).address, password


def _make(keys_dir: Path, password: Password, consortium_secret: bytes | None) -> dict[Slot, bytes]:
    values = {}
    for slot in SLOTS:
        override = os.environ.get(slot.env)
        if slot is CONSORTIUM and consortium_secret is not None:
            values[slot] = consortium_secret
        elif override:  # the value the node uses now, kept should the variable go away
            values[slot] = _read_any(Path(override), password, slot)
        else:
            values[slot] = _random_secret()
    for slot in SLOTS:
        _store(keys_dir, slot, values[slot], password)
        (keys_dir / slot.legacy).unlink(missing_ok=True)
    return values


def member_address(keys_dir: Path) -> str:
    """The member's address, read from the keystore's address field, without unlocking it."""
    override = os.environ.get(MEMBER.env)
    path = Path(override) if override else keys_dir / MEMBER.keystore
    legacy = keys_dir / MEMBER.legacy
    if not override and not path.exists() and legacy.exists():
        return str(Account.from_key(read_hex(legacy, MEMBER.what)).address)
    if not override and not path.exists():
        raise KeystoreError(f"no member key in {keys_dir}: `creditchain keys new` makes one")
    if override and not path.read_bytes().lstrip().startswith(b"{"):
        return str(Account.from_key(read_hex(path, MEMBER.what)).address)
    try:
        return str(to_checksum_address("0x" + str(_read_keystore(path)["address"])[-40:]))
    except (KeyError, ValueError):
        raise KeystoreError(f"{path} names no address") from None
