"""`creditchain staff`: add, list, unlock, disable and enable staff accounts, straight on a
data directory's store (safe while the node runs: SQLite in WAL mode, or PostgreSQL). Every
change, made or refused, goes into the operator log as `cli:<system user>`, as the API's do."""

import argparse
import getpass
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
        help="add, list, unlock, disable and enable staff accounts",
        description="Staff accounts of this node. Each has one role and a token, shown once "
        "when the account is added; the store keeps only its hash.",
    )
    staff.set_defaults(func=main_for)
    sub = staff.add_subparsers(dest="staff_command", required=True, metavar="SUBCOMMAND")
    add = sub.add_parser("add", help="add an account and print its token, once")
    add.add_argument("name", metavar="NAME", help="the account's name, e.g. admin-zhang")
    add.add_argument("--role", required=True, choices=ROLE_NAMES)
    _data_option(add)
    listing = sub.add_parser("list", help="list the accounts (never their tokens)")
    _data_option(listing)
    for command, text in (
        ("unlock", "unlock an account for every address it was locked for after failed attempts"),
        ("disable", "refuse an account's token from now on (not the last enabled admin's)"),
        ("enable", "accept a disabled account's token again"),
    ):
        one = sub.add_parser(command, help=text)
        one.add_argument("name", metavar="NAME", help="the account's name")
        _data_option(one)
    return staff


def cli_user() -> str:
    """Who ran the command, as the operator log names them: cli:<system user>."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a bare container)
        user = f"uid{os.getuid()}"
    return f"cli:{user[:64]}"


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def main_for(args: argparse.Namespace) -> int:
    """Run the `staff` subcommand in `args`; the exit status."""
    from node.config import DataDirError, Settings, require_node
    from node.db import make_engine
    from node.staff import service
    from node.staff.oplog import CLI_STATUS, append_log

    try:  # a mistyped --data must not become a new, empty store
        require_node(args.data)
    except DataDirError as err:
        print(f"creditchain staff: {err}", file=sys.stderr)
        return 2
    engine = make_engine(Settings(data=args.data).store_url)
    try:
        if args.staff_command == "list":
            _list(service.list_accounts(engine=engine))
            return 0
        status, outcome = _change(service, engine, args)
        if outcome is not None:
            append_log(
                engine=engine,
                who=cli_user(),
                role=None,
                action=f"staff {args.staff_command} {args.name}",
                outcome=outcome,
                status=CLI_STATUS,
                client=None,
                target=args.name,
            )
        return status
    finally:
        engine.dispose()


def _list(accounts: list[dict[str, Any]]) -> None:
    if not accounts:
        print("no staff accounts; add the first admin with: staff add NAME --role admin")
    for a in accounts:
        state = "disabled" if a["disabled"] else "active"
        print(
            f"{a['name']:24} {a['role']:16} {state:8} "
            f"failed {a['failed_attempts']}  locked for {a['locked_sources']} "
            f"address(es)  added {_when(a['created_at'])}"
        )


def _change(service: Any, engine: Any, args: argparse.Namespace) -> tuple[int, str | None]:
    """Make the change `args` asks for: the exit status, and the outcome for the operator log
    (None: nothing was tried, the input was not a name or role)."""
    name, command = args.name, args.staff_command
    try:
        if command == "add":
            new = service.add(engine=engine, name=name, role=args.role)
            print(f"added {new.name} ({new.role}); the token is shown only this once:")
            print(new.token, flush=True)
            return 0, "ok"
        {
            "unlock": service.unlock_or_raise,
            "disable": service.disable_or_raise,
            "enable": service.enable_or_raise,
        }[command](engine=engine, name=name)
    except service.InvalidStaff as err:
        print(f"{err.field}: {err.detail}", file=sys.stderr)
        return 2, None
    except service.StaffExists:
        print(f"a staff account named {name} exists already", file=sys.stderr)
        return 1, "staff_exists"
    except service.StaffNotFound:
        print(f"no staff account named {name}", file=sys.stderr)
        return 1, "staff_not_found"
    except service.StaffDisabled:
        print(f"{name} is disabled; enable it to let its token in again", file=sys.stderr)
        return 1, "staff_disabled"
    except service.LastActiveAdmin:
        print(
            f"{name} is the last enabled admin; add or enable another admin first", file=sys.stderr
        )
        return 1, "last_admin"
    done = {"unlock": "unlocked", "disable": "disabled", "enable": "enabled"}
    print(f"{done[command]} {name}")
    return 0, "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="creditchain")
    register(parser.add_subparsers(dest="command", required=True))
    return main_for(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
