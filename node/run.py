"""`creditchain run`: take the data directory and the port, check keys and chain, then
serve the node (node/app.py) with uvicorn."""

import argparse
import errno
import logging
import os
import socket
import sys
from typing import Any

import uvicorn
from pydantic import ValidationError

from node import logs
from node.config import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    DataDirError,
    Settings,
    lock_data,
    settings_error,
)

# `creditchain run` options: the Settings fields, so names, defaults, help and environment
# variables are written once (node/config.py) and validated the same way from either source.
_RUN_OPTIONS = {
    "rpc": "URL", "consortium": "0xADDRESS", "data": "DIR", "port": "N", "host": "ADDR",
    "batch_size": "N", "batch_interval": "SECONDS", "confirmations": "N", "workers": "N",
    "max_body_mb": "MIB", "max_request_kb": "KIB", "body_timeout": "SECONDS",
    "body_min_rate_kb": "KIB", "max_connections": "N", "rpc_gas_cap": "GAS",
    "rpc_evm_timeout": "SECONDS", "rpc_logs_max_blocks": "N", "log_level": "LEVEL",
    "log_format": "FORMAT",
    "consent_max_window": "SECONDS", "login_max_age": "SECONDS", "blacklist_retention_years": "N",
    "store": "URL", "retention_negative_years": "N", "retention_other_years": "N",
    "free_reports_per_year": "N", "borrower_relays_per_day": "N",
}  # fmt: skip


def register(sub: Any) -> None:
    """Add `run` to the CLI's subparsers."""
    run = sub.add_parser(
        "run",
        help="start the node (API and batcher)",
        description="Start one node. Every option can also be set by the environment variable "
        "named in brackets. Without --rpc the node runs its own embedded chain, kept under "
        "the data directory, and on a fresh one founds a consortium of one. With --rpc it "
        "joins the consortium its DATA/chain.json or --consortium names, and never deploys: "
        "`creditchain consortium found` founds a new one. Before it touches keys, store or "
        "chain it takes the data directory (DATA/node.lock) and its port, and stops in one "
        "line if another node has the one or another program the other.",
    )
    for field, metavar in _RUN_OPTIONS.items():
        info = Settings.model_fields[field]
        default = "unset" if info.default is None else info.default
        run.add_argument(
            "--" + field.replace("_", "-"),
            metavar=metavar,
            default=None,  # unset: Settings takes the environment, then its default
            help=f"{info.description} [CREDITCHAIN_{field.upper()}] (default: {default})",
        )
    run.set_defaults(func=_run)


class _StartRefused(Exception):
    """The node cannot start here; the message is one line for the operator."""


def _listen(host: str, port: int) -> list[socket.socket]:
    """The API's sockets, bound now, before keys, store or chain are touched: a port in use is
    said at once, and nothing else can take it while the node deploys or catches up. Bound as
    asyncio would bind them for uvicorn (every address the host names, SO_REUSEADDR)."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as err:
        raise _StartRefused(f"--host {host} (or CREDITCHAIN_HOST): {err.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as err:
        for sock in sockets:
            sock.close()
        if err.errno == errno.EADDRINUSE:
            why = f"port {port} on {host} is in use: give another --port (or CREDITCHAIN_PORT)"
        else:
            why = f"cannot listen on {host} port {port}: {err.strerror} (see --host, --port)"
        raise _StartRefused(why) from None
    return sockets


def _take_place(settings: Settings) -> tuple[int, list[socket.socket]]:
    """The data directory's lock and the API's sockets, or _StartRefused / DataDirError.
    An existing directory is locked first, so that a second node on it hears that rather than
    'port in use'; a new one is made only once the port is known to be free."""
    data = settings.data
    if data.exists() and not data.is_dir():
        raise _StartRefused(f"--data {data} (or CREDITCHAIN_DATA): not a directory")
    lock = lock_data(data) if data.is_dir() else None
    sockets: list[socket.socket] = []
    try:
        sockets = _listen(settings.host, settings.port)
        if lock is None:
            try:
                data.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise _StartRefused(f"--data {data}: {err.strerror}") from None
            lock = lock_data(data)
    except BaseException:
        for sock in sockets:
            sock.close()
        if lock is not None:
            os.close(lock)
        raise
    return lock, sockets


def _run(args: argparse.Namespace) -> int:
    from node.app import create_app
    from node.chain.client import ChainError
    from node.chain.setup import prepare
    from node.db import StoreError, check_store, safe_url
    from node.keys.store import KeystoreError, load_secrets
    from node.limits import head_deadline_protocol, open_files_for

    given = {f: getattr(args, f) for f in _RUN_OPTIONS if getattr(args, f) is not None}
    try:
        settings = Settings(**given)
    except ValidationError as err:
        print(f"creditchain: {settings_error(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        lock, sockets = _take_place(settings)
    except (_StartRefused, DataDirError) as err:
        print(f"creditchain: {err}", file=sys.stderr)
        return EXIT_FAILED
    try:
        logs.configure(settings.log_level, settings.log_format)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # its start-up chatter
        try:  # a wrong password stops here, in one line, before the server starts
            member = load_secrets(settings.keys_dir).member
        except KeystoreError as err:
            logs.say(f"creditchain: {err}", error=True)
            return EXIT_BAD_INPUT
        try:  # and so does a chain without a consortium named, or a wrong one
            prepare(data=settings.data, rpc=settings.rpc, member=member,
                    consortium=settings.consortium)  # fmt: skip
        except ChainError as err:
            logs.say(f"creditchain: {err}", error=True)
            return EXIT_BAD_INPUT
        try:  # and so does a store that cannot be reached
            check_store(settings.store_url)
        except StoreError as err:
            logs.say(f"creditchain: {err}", error=True)
            return EXIT_BAD_INPUT
        logs.say(
            f"starting: data in {settings.data.resolve()}, "
            f"chain {'at ' + settings.rpc if settings.rpc else 'embedded'}"
            + (f", store {safe_url(settings.store)}" if settings.store else "")
        )
        short_of_files = open_files_for(settings.max_connections)
        if short_of_files:
            logging.getLogger("creditchain").warning(short_of_files)
        config = uvicorn.Config(
            create_app(settings),
            http=head_deadline_protocol(),
            # uvicorn counts the connection asking too: one more, so max_connections are served
            limit_concurrency=settings.max_connections + 1,
            log_level=settings.log_level,
            access_log=False,
            # JSON: uvicorn's own loggers pass their lines to the root logger's JSON handler
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        )
        logging.getLogger("uvicorn.error").addFilter(_OneLineRefusal())
        server = _Server(config, settings.node_url)
        try:
            server.run(sockets=sockets)
        except KeyboardInterrupt:  # uvicorn raises Ctrl+C again once it has shut down
            pass
        return 0 if server.started else EXIT_FAILED
    finally:
        for sock in sockets:
            sock.close()
        os.close(lock)


class _OneLineRefusal(logging.Filter):
    """A start refused for the chain's sake (the consortium, its contracts) fails inside the
    app's start-up, where uvicorn logs the whole traceback: say it in the one line the
    refusal carries instead, as the refusals found before the server starts are said."""

    REFUSALS = ("node.chain.deploy.DeployError: ", "node.chain.client.ChainError: ")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if text.startswith("Traceback"):
            last = text.rstrip().rsplit("\n", 1)[-1]
            for prefix in self.REFUSALS:
                if last.startswith(prefix):
                    record.msg, record.args = "creditchain: " + last[len(prefix) :], ()
        return True


class _Server(uvicorn.Server):
    """uvicorn on sockets bound before start-up, saying where it listens once it does."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            logs.say(f"creditchain node: listening on {self.url} (Ctrl+C stops it)")
