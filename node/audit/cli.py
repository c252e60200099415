"""`creditchain audit-export`: a member's signed bundle of everything it anchored; and
`creditchain audit BUNDLE...`: its check against the chain alone, with JSON and HTML reports."""

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from node.config import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_UNREACHABLE

_STORE_HELP = "the store's database URL [CREDITCHAIN_STORE] (default: SQLite in DATA/node.db)"
_DATA_DEFAULT = Path(os.environ.get("CREDITCHAIN_DATA", "data"))


def register(sub: Any) -> None:
    """Add `audit-export` and `audit` to the CLI's subparsers."""
    export = sub.add_parser(
        "audit-export",
        help="write a signed audit bundle of every record and query this node anchored",
        description="Write, for an auditor, every leaf of every confirmed batch this node "
        "anchored: each record in its committed form (subject key, never the identifier) "
        "with its salt, each query log entry, each erased record as its commitment alone; "
        "with its batch, leaf index, status and inclusion proof. JSON Lines, streamed (a "
        "header line, one line per leaf, a trailer signed with the member key). The node "
        "may go on running meanwhile. Needs the node's key password, as `creditchain run`.",
    )
    export.add_argument(
        "--data", metavar="DIR", type=Path, default=_DATA_DEFAULT,
        help="the node's data directory [CREDITCHAIN_DATA] (default: data)",
    )  # fmt: skip
    export.add_argument("--to", metavar="FILE", type=Path, required=True,
                        help="the bundle to write (must not exist yet)")  # fmt: skip
    export.add_argument("--store", metavar="URL", help=_STORE_HELP)
    export.add_argument("--queries-only", action="store_true",
                        help="the query log for a cross-check with another member's: every "
                        "record withheld (its commitment and proof alone)")  # fmt: skip
    export.set_defaults(func=_export)

    audit = sub.add_parser(
        "audit",
        help="verify audit bundles against the chain alone; JSON and HTML reports",
        description="Check each BUNDLE (from `creditchain audit-export`) against the chain, "
        "trusting nothing the member says: every record's commitment and proof against its "
        "batch's root in the RecordRegistry; every batch of the member present (up to the "
        "bundle's block), every leaf of each accounted for, the chain of previous roots "
        "unbroken; statuses as on chain; records expired on chain erased; objections against "
        "the member answered before their deadlines; the bundle signed by the member. Given "
        "two or more bundles, their query logs are compared: a query one side logged "
        "and the other did not is named. The chain is read through --rpc (an "
        "outsider with no node) or through the event index of the node in --data. Exit 0 if "
        "nothing was found, 1 if something was, 2 on bad input, 3 if the chain cannot be read.",
    )
    audit.add_argument("bundles", metavar="BUNDLE", type=Path, nargs="+",
                       help="audit bundles, one per member")  # fmt: skip
    source = audit.add_mutually_exclusive_group(required=True)
    source.add_argument("--rpc", metavar="URL", help="the chain's JSON-RPC endpoint")
    source.add_argument("--data", metavar="DIR", type=Path,
                        help="read the chain through the event index of this node (the "
                        "auditor's own, never the audited member's)")  # fmt: skip
    audit.add_argument("--store", metavar="URL", help=_STORE_HELP + "; with --data")
    audit.add_argument("--registry", metavar="ADDRESS",
                       help="the consortium's RecordRegistry (default with --rpc: the one the "
                       "bundle names; with --data: the node's)")  # fmt: skip
    audit.add_argument("--blocks-per-query", metavar="N", type=int, default=10_000,
                       help="blocks per eth_getLogs with --rpc (default: 10,000)")  # fmt: skip
    audit.add_argument(
        "--json", metavar="FILE", type=Path,
        help="the JSON report (default: the first BUNDLE's name + .audit.json)",
    )  # fmt: skip
    audit.add_argument("--html", metavar="FILE", type=Path,
                       help="the HTML report (default: BUNDLE.audit.html)")  # fmt: skip
    audit.set_defaults(func=_audit)


def _export(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from node.audit.errors import ExportFailed
    from node.audit.export import export_bundle
    from node.chain.deploy import DeployError, read_chain_file
    from node.config import DataDirError, Settings, require_node, settings_error
    from node.db import make_engine
    from node.keys.store import KeystoreError, load_secrets
    from node.records.intake import RecordKeys
    from node.staff.cli import cli_user
    from node.staff.oplog import CLI_STATUS, append_log

    try:
        require_node(args.data)
        settings = Settings(data=args.data, **({"store": args.store} if args.store else {}))
        chain_file = read_chain_file(settings.chain_file)
        if chain_file is None or "RecordRegistry" not in chain_file.contracts:
            raise DataDirError(f"{settings.chain_file} is missing: start the node once first")
        secrets = load_secrets(settings.keys_dir, create=False)
        if args.to.exists():
            raise DataDirError(f"{args.to} exists already: name a new file")
    except (DataDirError, DeployError, KeystoreError) as err:
        print(f"creditchain audit-export: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValidationError as err:
        print(f"creditchain audit-export: {settings_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    engine = make_engine(settings.store_url)
    partial = args.to.with_name(args.to.name + ".partial")
    console = Console(stderr=True)
    try:
        with partial.open("wb") as out, Progress(
            TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), console=console
        ) as bar:  # fmt: skip
            task = bar.add_task("", total=None)
            done = export_bundle(
                engine=engine, keys=RecordKeys.from_secrets(secrets), account=secrets.member,
                chain_id=chain_file.chain_id, registry=chain_file.contracts["RecordRegistry"],
                out=out, progress=lambda n, total: bar.update(task, completed=n, total=total),
                queries_only=args.queries_only,
            )  # fmt: skip
        partial.rename(args.to)
        outcome, code = "ok", 0
        print(f"{args.to}: {done.leaves:,} leaves of {done.batches:,} "
              f"batch{'' if done.batches == 1 else 'es'} "
              f"({done.erased:,} erased), sha256 {done.sha256}, signed by "
              f"{secrets.member.address}")  # fmt: skip
    except (ExportFailed, OSError) as err:
        partial.unlink(missing_ok=True)
        print(f"creditchain audit-export: {getattr(err, 'detail', err)}", file=sys.stderr)
        outcome, code = "failed", EXIT_FAILED
    try:
        append_log(engine=engine, who=cli_user(), role=None, action="audit_export",
                   outcome=outcome, status=CLI_STATUS, client=None,
                   target=args.to.name[:200])  # fmt: skip
    finally:
        engine.dispose()
    return code


def _facts_source(args: argparse.Namespace, shown: Any) -> Any:
    """header -> ChainFacts, from the chain's RPC (its reading `shown(member, block, head)`)
    or from the node's index in --data."""
    from node.audit import chainview

    cache: dict[tuple[str, str], Any] = {}
    if args.rpc:

        def from_rpc(header: dict[str, Any]) -> Any:
            registry = args.registry or str(header["registry"])
            key = (str(header["member"]).lower(), registry.lower())
            member = str(header["member"])
            if key not in cache:
                cache[key] = chainview.from_rpc(
                    args.rpc, registry=registry, member=member,
                    blocks_per_query=args.blocks_per_query,
                    progress=lambda block, head: shown(member, block, head),
                )  # fmt: skip
            return cache[key]

        return from_rpc
    from node.chain.deploy import read_chain_file
    from node.config import DataDirError, Settings, require_node
    from node.db import make_engine

    require_node(args.data)
    settings = Settings(data=args.data, **({"store": args.store} if args.store else {}))
    chain_file = read_chain_file(settings.chain_file)
    if chain_file is None:
        raise DataDirError(f"{settings.chain_file} is missing: start the node once first")
    engine = make_engine(settings.store_url)
    registry = args.registry or chain_file.contracts["RecordRegistry"]

    def from_index(header: dict[str, Any]) -> Any:
        return chainview.from_index(engine, chain_id=chain_file.chain_id, registry=registry,
                                    member=str(header["member"]))  # fmt: skip

    return from_index


def _audit(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from node.audit.errors import BundleError, ChainUnreadable
    from node.audit.report import write_html, write_json
    from node.audit.service import audit
    from node.chain.deploy import DeployError
    from node.config import DataDirError

    console = Console(stderr=True)
    first = args.bundles[0]
    json_path = args.json or first.with_name(first.name + ".audit.json")
    html_path = args.html or first.with_name(first.name + ".audit.html")
    missing = [str(p) for p in args.bundles if not p.is_file()]
    if missing:
        print(f"creditchain audit: no such bundle: {', '.join(missing)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.registry is not None and not re.fullmatch(r"0x[0-9a-fA-F]{40}", args.registry):
        print("creditchain audit: --registry must be the RecordRegistry's address: 0x and 40 "
              "hex digits", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    if args.blocks_per_query < 1:
        print("creditchain audit: --blocks-per-query must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.fields[count]}"), TimeRemainingColumn(),
                      console=console) as bar:  # fmt: skip
            tasks: dict[str, Any] = {}

            def step(name: str, done: int, total: int, count: str) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=total, count=count)
                bar.update(tasks[name], completed=done, total=total, count=count)

            def chain_read(member: str, block: int, head: int) -> None:
                step(f"reading the chain for {member[:10]}…", block + 1, head + 1,
                     f"block {block:,} of {head:,}")  # fmt: skip

            def progress(path: str, done: int, total: int) -> None:
                step(f"checking {Path(path).name}", done, total,
                     f"{done / 2**20:,.1f}/{total / 2**20:,.1f} MiB")  # fmt: skip

            facts_for = _facts_source(args, chain_read)
            report = audit(args.bundles, facts_for, progress=progress)
    except BundleError as err:
        print(f"creditchain audit: {err.detail}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (DataDirError, DeployError) as err:
        print(f"creditchain audit: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ChainUnreadable as err:
        print(f"creditchain audit: {err.detail}", file=sys.stderr)
        return EXIT_UNREACHABLE
    write_json(report, json_path)
    write_html(report, html_path)
    table = Table(title="audit summary")
    for column in ("member", "lines", "proven", "erased", "batches", "findings"):
        table.add_column(column)
    for b in report["bundles"]:
        table.add_row(str(b["member"]), f"{b['lines']:,}", f"{b['proven']:,}", f"{b['erased']:,}",
                      f"{b['batches_covered']:,}", str(sum(b["findings"].values())))  # fmt: skip
    Console().print(table)
    for f in report["findings"][:20]:
        where = " ".join(f"{k} {f[k]}" for k in ("batch", "leaf", "record_id") if k in f)
        print(f"  {f['kind']:16} {where}: {f['detail']}")
    if len(report["findings"]) > 20:
        print(f"  ... and {len(report['findings']) - 20:,} more in the reports")
    verdict = "PASSED" if report["ok"] else "FAILED: " + ", ".join(
        f"{n:,} {k}" for k, n in report["summary"].items())  # fmt: skip
    print(f"{verdict}\nreports: {json_path} {html_path}")
    return 0 if report["ok"] else EXIT_FAILED
