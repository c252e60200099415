"""`creditchain keys`: create the node's keystores, show its member address and public key,
and the card a new member hands to the consortium's admins.

Nothing here prints a private key or the password: only the address, the public key and
where the files are.
"""

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from coincurve import PublicKey

from node.config import EXIT_BAD_INPUT
from node.keys.store import (
    CONSORTIUM,
    MASTER,
    MEMBER,
    PASSWORD_ENV,
    PASSWORD_FILE_ENV,
    KeystoreError,
    kdf_n,
    load_secrets,
    make_keys,
    member_address,
    read_hex,
)

MAX_FIELD_BYTES = 256  # the Consortium contract's bound on a member's name and node URL


def register(subparsers: Any) -> None:
    """Add `keys new|address|public-key|card` to the `creditchain` parser's subcommands."""
    keys = subparsers.add_parser(
        "keys",
        help="create the node's encrypted keys, or show its address, public key and card",
        description="The node's member key, master key and consortium secret, each an "
        "eth-account keystore in DATA/keys, unlocked by one password: "
        f"{PASSWORD_ENV}, or the file {PASSWORD_FILE_ENV} names, or else DATA/keys/password.",
    )
    keys.set_defaults(func=run)
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="SUBCOMMAND")
    data_help = "data directory [CREDITCHAIN_DATA] (default: ./data)"
    default_data = Path(os.environ.get("CREDITCHAIN_DATA", "data"))

    new = sub.add_parser(
        "new",
        help="create new keys (refuses to replace existing ones without --force)",
        description="Create a new member key, master key and consortium secret, encrypted with "
        f"the password from {PASSWORD_ENV} or {PASSWORD_FILE_ENV}; with neither set, a random "
        "one is written to DATA/keys/password. Prints the member address, never a key.",
    )
    new.add_argument("--data", metavar="DIR", type=Path, default=default_data, help=data_help)
    new.add_argument(
        "--consortium-secret-file",
        metavar="FILE",
        type=Path,
        help="import the consortium's shared secret (32 bytes of hex) instead of making one; "
        "every member of a consortium needs the same",
    )
    new.add_argument(
        "--force",
        action="store_true",
        help="replace existing keys: the records already in the store can no longer be read, "
        "and the member address changes",
    )

    address = sub.add_parser(
        "address",
        help="print the member address (needs no password)",
        description="Print the member's address, read from its keystore without unlocking it.",
    )
    address.add_argument("--data", metavar="DIR", type=Path, default=default_data, help=data_help)

    unlocking = (
        "The public key is not in the keystore (only the address, a hash of it), so this "
        "unlocks the member key with the node's password, found as the node finds it."
    )
    public = sub.add_parser(
        "public-key",
        help="print the member's public key, hex (needs the key password)",
        description="Print the member's secp256k1 public key (uncompressed, 0x04...), which "
        f"`governance propose admit --public-key` needs. {unlocking}",
    )
    public.add_argument("--data", metavar="DIR", type=Path, default=default_data, help=data_help)

    card = sub.add_parser(
        "card",
        help="print what the admins need to admit this member, and the command that does it",
        description="Print this member's address, name, node URL and public key, and the "
        "`creditchain governance propose admit ...` command line an admin of the consortium "
        f"runs to propose its admission. {unlocking}",
    )
    card.add_argument("--name", required=True, help="the member's name, as the others see it")
    card.add_argument(
        "--node-url", metavar="URL", required=True,
        help="where the other members reach this node, e.g. https://node.example.com:8700",
    )  # fmt: skip
    card.add_argument("--data", metavar="DIR", type=Path, default=default_data, help=data_help)


def run(args: argparse.Namespace) -> int:
    """Run a parsed `keys` command; 0 on success, 1 on an error, 2 on bad input, on stderr."""
    keys_dir = args.data / "keys"
    try:
        if args.keys_command == "address":
            print(member_address(keys_dir))
            return 0
        if args.keys_command == "public-key":
            print(public_key(keys_dir))
            return 0
        if args.keys_command == "card":
            return _card(keys_dir, args.name, args.node_url)
        return _new(keys_dir, args.consortium_secret_file, args.force)
    except KeystoreError as err:
        print(f"creditchain keys: {err}", file=sys.stderr)
        return 1


def public_key(keys_dir: Path) -> str:
    """The member's public key as the Consortium contract takes it: SEC1 uncompressed, hex."""
    member_address(keys_dir)  # no member key here: say so plainly, before asking for a password
    member = load_secrets(keys_dir, create=False).member
    return "0x" + PublicKey.from_secret(bytes(member.key)).format(compressed=False).hex()


def _card(keys_dir: Path, name: str, node_url: str) -> int:
    for field, value in (("--name", name), ("--node-url", node_url)):
        if not value.strip() or len(value.encode()) > MAX_FIELD_BYTES:
            print(f"creditchain keys: {field} must be 1 to {MAX_FIELD_BYTES} bytes",
                  file=sys.stderr)  # fmt: skip
            return EXIT_BAD_INPUT
    if not node_url.startswith(("http://", "https://")):
        print("creditchain keys: --node-url must start with http:// or https://", file=sys.stderr)
        return EXIT_BAD_INPUT
    address, key = member_address(keys_dir), public_key(keys_dir)
    command = ["creditchain", "governance", "propose", "admit", address, "--name", name,
               "--node-url", node_url, "--public-key", key]  # fmt: skip
    print(f"member      {address}")
    print(f"name        {name}")
    print(f"node URL    {node_url}")
    print(f"public key  {key}")
    print()
    print("An admin of the consortium proposes the admission with (adding the --node and")
    print("--token-file of the admin's own node):")
    print("  " + shlex.join(command))
    return 0


def _new(keys_dir: Path, secret_file: Path | None, force: bool) -> int:
    shared = read_hex(secret_file, CONSORTIUM.what) if secret_file else None
    address, password = make_keys(keys_dir, consortium_secret=shared, force=force)
    where = keys_dir.resolve()
    names = ", ".join(s.keystore for s in (MEMBER, MASTER, CONSORTIUM))
    print(f"member {address}")
    print(f"keys in {where}: {names} (eth-account keystores, scrypt n={kdf_n()})")
    print(f"password: {password.source}")
    if shared is not None:
        print(f"consortium secret: imported from {secret_file}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m node.keys.cli SUBCOMMAND ...`, the same as `creditchain keys SUBCOMMAND ...`."""
    parser = argparse.ArgumentParser(prog="creditchain")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return run(parser.parse_args(["keys", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
