"""`creditchain staff`: add, list and unlock staff accounts, straight on a data directory's
store (safe while the node runs: SQLite in WAL mode)."""

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROLE_NAMES = ("admin", "submitter", "query_operator", "dispute_handler", "internal_auditor")


def _data_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=Path(os.environ.get("CREDITCHAIN_DATA", "data")),
        help="the node's data directory [CREDITCHAIN_DATA] (default: ./data)",
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `staff` and its subcommands to the CLI's subparsers."""
    staff = subparsers.add_parser(
        "staff",
        help="add, list and unlock staff accounts",
        description="Staff accounts of this node. Each has one role and a token, shown once "
        "when the account is added; the store keeps only its hash.",
    )
    sub = staff.add_subparsers(dest="staff_command", required=True, metavar="SUBCOMMAND")
    add = sub.add_parser("add", help="add an account and print its token, once")
    add.add_argument("name", metavar="NAME", help="the account's name, e.g. admin-zhang")
    add.add_argument("--role", required=True, choices=ROLE_NAMES)
    _data_option(add)
    listing = sub.add_parser("list", help="list the accounts (never their tokens)")
    _data_option(listing)
    unlock = sub.add_parser("unlock", help="unlock an account locked after failed attempts")
    unlock.add_argument("name", metavar="NAME", help="the locked account's name")
    _data_option(unlock)
    return staff


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def main_for(args: argparse.Namespace) -> int:
    """Run the `staff` subcommand in `args`; the exit status."""
    from node.config import DataDirError, Settings, require_node
    from node.db import make_engine
    from node.staff import service

    try:  # a mistyped --data must not become a new, empty store
        require_node(args.data)
    except DataDirError as err:
        print(f"creditchain staff: {err}", file=sys.stderr)
        return 2
    engine = make_engine(Settings(data=args.data).db_path)
    try:
        if args.staff_command == "add":
            try:
                new = service.add(engine=engine, name=args.name, role=args.role)
            except service.StaffExists:
                print(f"a staff account named {args.name} exists already", file=sys.stderr)
                return 1
            except service.InvalidStaff as err:
                print(f"{err.field}: {err.detail}", file=sys.stderr)
                return 2
            print(f"added {new.name} ({new.role}); the token is shown only this once:")
            print(new.token, flush=True)
            return 0
        if args.staff_command == "list":
            accounts = service.list_accounts(engine=engine)
            if not accounts:
                print("no staff accounts; add the first admin with: staff add NAME --role admin")
            for a in accounts:
                state = "disabled" if a["disabled"] else "locked" if a["locked"] else "active"
                print(
                    f"{a['name']:24} {a['role']:16} {state:8} "
                    f"failed {a['failed_attempts']}  added {_when(a['created_at'])}"
                )
            return 0
        try:
            service.unlock_or_raise(engine=engine, name=args.name)
        except service.StaffNotFound:
            print(f"no staff account named {args.name}", file=sys.stderr)
            return 1
        print(f"unlocked {args.name}")
        return 0
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="creditchain")
    register(parser.add_subparsers(dest="command", required=True))
    return main_for(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
