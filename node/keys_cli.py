"""`creditchain keys`: create the node's keystores, show its member address.

Nothing here prints a key or the password: only the address and where the files are.
"""

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from node.secrets import (
    CONSORTIUM,
    MASTER,
    MEMBER,
    PASSWORD_ENV,
    PASSWORD_FILE_ENV,
    KeystoreError,
    kdf_n,
    make_keys,
    member_address,
    read_hex,
)


def register(subparsers: Any) -> None:
    """Add `keys new` and `keys address` to the `creditchain` parser's subcommands."""
    keys = subparsers.add_parser(
        "keys",
        help="create the node's encrypted keys, or show its member address",
        description="The node's member key, master key and consortium secret, each an "
        "eth-account keystore in DATA/keys, unlocked by one password: "
        f"{PASSWORD_ENV}, or the file {PASSWORD_FILE_ENV} names, or else DATA/keys/password.",
    )
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


def run(args: argparse.Namespace) -> int:
    """Run a parsed `keys` command; 0 on success, 1 on an error, said on stderr."""
    keys_dir = args.data / "keys"
    try:
        if args.keys_command == "address":
            print(member_address(keys_dir))
            return 0
        return _new(keys_dir, args.consortium_secret_file, args.force)
    except KeystoreError as err:
        print(f"creditchain keys: {err}", file=sys.stderr)
        return 1


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
    """`python -m node.keys_cli new|address ...`, the same as `creditchain keys ...`."""
    parser = argparse.ArgumentParser(prog="creditchain")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return run(parser.parse_args(["keys", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
