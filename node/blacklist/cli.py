"""`creditchain blacklist check FILE`: check a CSV or JSON Lines file of applicants.

It works on the node's own store, as `staff` does: the subject keys are made with the
node's consortium secret (its keys and password) and looked up in the derived table of the
event index, so it needs no chain and no running node, and answers as of the block the
node's index had read. The check is written to the operator log (how many, never who).
"""

import argparse
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from node.config import EXIT_BAD_INPUT, DataDirError, Settings, require_node

FIELDS = ("type", "id_number")


def register(sub: Any) -> None:
    """Add `blacklist` and its actions to the CLI's subparsers."""
    bl = sub.add_parser(
        "blacklist",
        help="the shared blacklist: check a file of applicants",
        description="The consortium's shared blacklist. Listing and delisting go through the "
        "node's API (POST /v1/blacklist/notices, /v1/blacklist/entries).",
    )
    bl.set_defaults(func=_check)  # its one action
    bsub = bl.add_subparsers(dest="blacklist_command", required=True, metavar="ACTION")
    check = bsub.add_parser(
        "check",
        help="check a CSV or JSON Lines file of applicants; answers written beside it",
        description="Check every applicant of FILE against the blacklist, from the node's "
        "store (its event index), with no chain call and no running node needed. FILE is "
        "CSV with a header holding the columns type and id_number, or JSON Lines (.jsonl) "
        'of {"type": "person", "id_number": "..."}. One answer per applicant, in order, '
        "goes to FILE.answers.jsonl: clear, listed (with the active entries) or invalid "
        "(the field at fault). Progress goes to stderr.",
    )
    check.add_argument("file", metavar="FILE", type=Path, help="the applicants (.csv or .jsonl)")
    check.add_argument(
        "--data", metavar="DIR", type=Path,
        default=Path(os.environ.get("CREDITCHAIN_DATA", "data")),
        help="the node's data directory [CREDITCHAIN_DATA] (default: ./data)",
    )  # fmt: skip
    check.add_argument("--out", metavar="FILE", type=Path, default=None,
                       help="where the answers go (default: FILE.answers.jsonl)")  # fmt: skip
    check.set_defaults(func=_check)


def read_applicants(path: Path) -> tuple[list[Any], list[int]]:
    """The applicants of a CSV or JSON Lines file and the line each came from; a line that
    cannot be read becomes an applicant the check names as invalid."""
    applicants: list[Any] = []
    lines: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(f)
            missing = [c for c in FIELDS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: the header has no column {missing[0]}")
            for row in reader:
                applicants.append({k: (row.get(k) or "").strip() for k in FIELDS})
                lines.append(reader.line_num)
            return applicants, lines
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                applicants.append(json.loads(line))
            except ValueError:
                applicants.append(None)
            lines.append(n)
    return applicants, lines


def _progress(total: int) -> Any:
    def show(done: int) -> None:
        filled = 30 * done // max(total, 1)
        print(f"\rchecking [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,}",
              end="" if done < total else "\n", file=sys.stderr, flush=True)  # fmt: skip

    return show


def _check(args: argparse.Namespace) -> int:
    from node.blacklist.checks import check_applicants
    from node.db import make_engine
    from node.keys.store import KeystoreError, load_secrets
    from node.staff.cli import cli_user
    from node.staff.oplog import CLI_STATUS, append_log

    try:
        require_node(args.data)
        applicants, lines = read_applicants(args.file)
        secret = load_secrets(args.data / "keys", create=False).consortium_secret
    except (DataDirError, KeystoreError, OSError, ValueError) as err:
        print(f"creditchain blacklist: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = args.out or args.file.with_name(args.file.name + ".answers.jsonl")
    engine = make_engine(Settings(data=args.data).store_url)
    try:
        answer = check_applicants(engine=engine, secret=secret, applicants=applicants,
                                  progress=_progress(len(applicants)))  # fmt: skip
        append_log(engine=engine, who=cli_user(), role=None, action="blacklist check",
                   outcome="ok", status=CLI_STATUS, client=None,
                   target=f"{len(applicants)} applicants")  # fmt: skip
    finally:
        engine.dispose()
    with out.open("w", encoding="utf-8") as f:
        for result, line in zip(answer["results"], lines, strict=True):
            f.write(json.dumps({"line": line, **result}, ensure_ascii=False) + "\n")
    print(
        f"checked {answer['checked']:,} applicant(s) as of block {answer['as_of_block']}: "
        f"{answer['clear']:,} clear, {answer['listed']:,} listed, {answer['invalid']:,} "
        f"invalid; answers in {out}"
    )
    return 0
