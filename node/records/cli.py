"""`creditchain submit FILE`: send a lender's batch file of records to a running node, in
submissions of up to 10,000, resumably, with a feedback file of every rejected line
(node/records/sending.py does the work; this module is the command line)."""

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from node.cli_args import TokenMissing, node_default, staff_token
from node.config import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNREACHABLE
from node.records.batchfile import COLUMNS, BadFile, format_of
from node.records.intake import MAX_RECORDS_PER_SUBMISSION


def register(sub: Any) -> None:
    """Add `submit` to the CLI's subparsers."""
    p = sub.add_parser(
        "submit",
        help="send a JSON Lines or CSV file of records to a node, resumably",
        description="Send FILE's records to a running node (POST /v1/records) in submissions "
        "of --batch records, with a progress bar on stderr. FILE is JSON Lines (.jsonl: one "
        "record per line, as the API takes it) or CSV (.csv: a header, then one record per "
        "line; columns: " + ", ".join(COLUMNS) + "). Progress is kept in "
        "FILE.progress.json after each submission the node confirms: run the same command "
        "again after an interruption and it goes on from there, sending nothing twice. "
        "Every rejected line goes to FILE.rejected.csv (line, record_id, field, reason; "
        "never the ID number or name): fix those lines and send them in a new file. Exit 0 "
        "when every line was accepted, 1 if some were rejected or the node refused, 2 on "
        "bad input, 3 if the node cannot be reached, 130 after Ctrl+C.",
    )
    p.add_argument("file", metavar="FILE", type=Path, help="the records (.jsonl or .csv)")
    p.add_argument(
        "--url", "--node", dest="node", metavar="URL", default=None,
        help="the node's API [CREDITCHAIN_NODE] (default: the node `creditchain run` starts "
        "with the same environment: http://CREDITCHAIN_HOST:CREDITCHAIN_PORT)",
    )  # fmt: skip
    p.add_argument(
        "--token-file", metavar="FILE", type=Path,
        help="a file holding a submitter or admin staff token (or CREDITCHAIN_TOKEN)",
    )  # fmt: skip
    p.add_argument(
        "--batch", metavar="N", type=int, default=MAX_RECORDS_PER_SUBMISSION,
        help=f"records per submission, 1 to {MAX_RECORDS_PER_SUBMISSION:,} "
        f"(default: {MAX_RECORDS_PER_SUBMISSION:,})",
    )  # fmt: skip
    p.add_argument("--format", choices=("jsonl", "csv"), default=None,
                   help="the file's format (default: by its name, .csv or .jsonl)")  # fmt: skip
    p.add_argument("--feedback", metavar="FILE", type=Path, default=None,
                   help="where rejected lines go (default: FILE.rejected.csv)")  # fmt: skip
    p.set_defaults(func=_submit, resolve=node_default)


def _token(args: argparse.Namespace) -> str:
    try:
        return staff_token(args, role="a submitter's")
    except TokenMissing as err:
        raise BadFile(str(err)) from None


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("submitting"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
        console=console,
    )


def _submit(args: argparse.Namespace) -> int:
    from node.records.sending import FEEDBACK_SUFFIX, STATE_SUFFIX, Sender, Stopped, submit_file

    path: Path = args.file
    try:
        if not 1 <= args.batch <= MAX_RECORDS_PER_SUBMISSION:
            raise BadFile(f"--batch must be 1 to {MAX_RECORDS_PER_SUBMISSION:,}")
        if not path.is_file():
            raise BadFile(f"{path}: no such file")
        fmt = format_of(path.name, args.format)
        token = _token(args)
        client = httpx.Client(
            base_url=args.node,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(300, connect=10),
        )
    except (BadFile, ValueError, httpx.InvalidURL) as err:
        print(f"creditchain submit: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    state = path.with_name(path.name + STATE_SUFFIX)
    feedback = args.feedback or path.with_name(path.name + FEEDBACK_SUFFIX)
    console = Console(stderr=True)
    with client, _bar(console) as bar:
        task = bar.add_task("", total=path.stat().st_size, counts="")

        def shown(p: Any) -> None:
            counts = f"line {p.line:,}: {p.accepted:,} accepted, {p.rejected:,} rejected"
            bar.update(task, completed=p.offset, counts=counts)

        try:
            done = submit_file(path=path, fmt=fmt, sender=Sender(client), batch=args.batch,
                               state=state, feedback=feedback, shown=shown)  # fmt: skip
        except BadFile as err:
            bar.stop()
            print(f"creditchain submit: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (Stopped, KeyboardInterrupt) as err:
            bar.stop()
            why = str(err) if isinstance(err, Stopped) else "interrupted"
            print(f"creditchain submit: {why}; what the node confirmed is kept in {state}: "
                  "run the same command again to go on", file=sys.stderr)  # fmt: skip
            if isinstance(err, KeyboardInterrupt):
                return 130  # as a shell reports a Ctrl+C
            return EXIT_UNREACHABLE if err.unreachable else EXIT_FAILED
    print(
        f"{path}: sent through line {done.line:,} in {done.submissions:,} submission(s): "
        f"{done.accepted:,} accepted, {done.rejected:,} rejected"
        + (f" (in {feedback}: fix those lines and send them again)" if done.rejected else "")
    )
    return EXIT_FAILED if done.rejected else 0
