"""creditchain: the command line. Each command is registered by its own room's cli.py
(`register(subparsers)`, which sets `func`, and `resolve` where a default comes from the
node's settings); this module only builds the top parser and dispatches."""

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

from pydantic import ValidationError

from node import run
from node.audit import cli as audit_cli
from node.backup import cli as backup_cli
from node.blacklist import cli as blacklist_cli
from node.chain import cli as index_cli
from node.config import EXIT_BAD_INPUT, settings_error
from node.consents import projection  # noqa: F401  (follows every index, `index rebuild`'s too)
from node.consortium import cli as consortium_cli
from node.db import StoreError
from node.disputes import cli as disputes_cli
from node.keys import cli as keys_cli
from node.members import cli as governance_cli
from node.receipts import cli as verify_cli
from node.records import cli as records_cli
from node.regulator import cli as regulator_cli
from node.retention import cli as retention_cli
from node.staff import cli as staff_cli

# in the order `creditchain --help` lists them
COMMANDS = (run, records_cli, verify_cli, consortium_cli, keys_cli, staff_cli, governance_cli,
            index_cli, blacklist_cli, disputes_cli, retention_cli, backup_cli, audit_cli,
            regulator_cli)  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="creditchain",
        description="A creditchain node: credit records shared among member lenders, "
        "anchored on a permissioned chain.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return p


def _version() -> str:
    try:
        return version("creditchain")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the defaults that come from the node's settings filled in."""
    parser = _parser()
    args = parser.parse_args(argv)
    resolve = getattr(args, "resolve", None)
    try:
        if resolve is not None:
            resolve(args)
    except ValidationError as err:
        parser.error(settings_error(err))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        code: int = args.func(args)
    except StoreError as err:  # a command that opens a PostgreSQL store it cannot reach
        print(f"creditchain: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return code


if __name__ == "__main__":
    sys.exit(main())
