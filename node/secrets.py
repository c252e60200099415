"""The node's own secrets: member key, master key for data at rest, consortium secret.

Each is a file under the keys directory (mode 0600), created on first start when missing;
an environment variable may point at a file kept elsewhere. Their contents are never logged
and never part of an error message.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount


@dataclass(frozen=True)
class NodeSecrets:
    member: LocalAccount
    master_key: bytes
    consortium_secret: bytes

    def __repr__(self) -> str:  # never print key material, even by accident
        return f"NodeSecrets(member={self.member.address})"


def _read_or_create(path: Path, env: str, create: bool) -> bytes:
    override = os.environ.get(env)
    if override:
        path = Path(override)
    if not path.exists():
        if not create or override:
            raise FileNotFoundError(
                f"secret file missing: {path} (set {env} or let the node create it)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    text = path.read_text().strip().removeprefix("0x")
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"secret file {path} does not hold hex") from None
    if len(value) != 32:
        raise ValueError(f"secret file {path} must hold 32 bytes of hex")
    return value


def load_secrets(keys_dir: Path, *, create: bool = True) -> NodeSecrets:
    """Load the node's secrets, creating missing ones on a first start."""
    member_key = _read_or_create(keys_dir / "member.key", "CREDITCHAIN_MEMBER_KEY_FILE", create)
    master = _read_or_create(keys_dir / "master.key", "CREDITCHAIN_MASTER_KEY_FILE", create)
    consortium = _read_or_create(
        keys_dir / "consortium.secret", "CREDITCHAIN_CONSORTIUM_SECRET_FILE", create
    )
    return NodeSecrets(Account.from_key(member_key), master, consortium)
