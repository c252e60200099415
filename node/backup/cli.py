"""`creditchain backup` and `creditchain restore`: a node's copy in one file, taken while it
runs, and brought back into a new data directory."""

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from node.config import EXIT_BAD_INPUT, EXIT_FAILED

_STORE_HELP = "the store's database URL [CREDITCHAIN_STORE] (default: SQLite in DATA/node.db)"


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def register(subparsers: Any) -> None:
    """Add `backup` and `restore` to the CLI's subparsers."""
    backup = subparsers.add_parser(
        "backup",
        help="copy a node (store, keys, chain.json, embedded chain) into one file, while it runs",
        description="Write a consistent copy of the node in --data to a new file: its store "
        "(SQLite's online backup, or pg_dump for a PostgreSQL store), its keys as the "
        "encrypted keystores they are (never the password that unlocks them: keep that "
        "apart), chain.json and the embedded chain. The node may go on running meanwhile.",
    )
    backup.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=Path(os.environ.get("CREDITCHAIN_DATA", "data")),
        help="the node's data directory [CREDITCHAIN_DATA] (default: ./data)",
    )
    backup.add_argument("--to", metavar="FILE", type=Path, required=True,
                        help="the backup file to write (must not exist yet)")  # fmt: skip
    backup.add_argument("--store", metavar="URL", help=_STORE_HELP)
    backup.set_defaults(func=_backup)

    restore = subparsers.add_parser(
        "restore",
        help="bring a backup back into a new data directory",
        description="Restore a backup written by `creditchain backup` into --data, which must "
        "be new or empty (and a PostgreSQL store into the empty database --store names). "
        "Every file is checked against the backup's checksums first. Started with the same "
        "key password, the restored node reads the chain from where its copy stood, anchors "
        "what was pending and hands out the receipts it handed out before.",
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="the backup file")
    restore.add_argument("--data", metavar="NEWDIR", type=Path, required=True,
                         help="the data directory to restore into: new or empty")  # fmt: skip
    restore.add_argument("--store", metavar="URL", help=_STORE_HELP)
    restore.set_defaults(func=_restore)


def _store_url(args: argparse.Namespace) -> str:
    from node.config import Settings

    given = {"data": args.data, **({"store": args.store} if args.store else {})}
    return Settings(**given).store_url


def _backup(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from node.backup.service import BackupError, take_backup
    from node.config import DataDirError, require_node, settings_error
    from node.db import make_engine
    from node.staff.cli import cli_user
    from node.staff.oplog import CLI_STATUS, append_log

    try:
        require_node(args.data)
        store = _store_url(args)
    except DataDirError as err:
        print(f"creditchain backup: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValidationError as err:
        print(f"creditchain backup: {settings_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        take_backup(data=args.data, store_url=store, to=args.to, progress=_progress)
        outcome, code = "ok", 0
    except BackupError as err:
        print(f"creditchain backup: {err.detail}", file=sys.stderr)
        outcome, code = "failed", EXIT_FAILED
    engine = make_engine(store)
    try:
        append_log(engine=engine, who=cli_user(), role=None, action="backup", outcome=outcome,
                   status=CLI_STATUS, client=None, target=args.to.name[:200])  # fmt: skip
    finally:
        engine.dispose()
    return code


def _restore(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from node.backup.service import BackupError, restore_backup
    from node.config import settings_error

    try:
        store = _store_url(args) if args.store or os.environ.get("CREDITCHAIN_STORE") else None
        restore_backup(source=args.file, data=args.data, store_url=store, progress=_progress)
    except ValidationError as err:
        print(f"creditchain restore: {settings_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BackupError as err:
        print(f"creditchain restore: {err.detail}", file=sys.stderr)
        return EXIT_FAILED
    from node.db import safe_url

    stored = f" --store {safe_url(args.store)}" if args.store else ""
    print(
        f"restored: start it with `creditchain run --data {args.data}{stored}` and the key "
        "password of the node it was taken from (CREDITCHAIN_KEY_PASSWORD or "
        "CREDITCHAIN_KEY_PASSWORD_FILE): the backup does not hold it",
        flush=True,
    )
    return 0
