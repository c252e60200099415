"""The node: its parts assembled, the batcher and the event index running beside the API."""

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from node import docs, openapi
from node.anchoring.batcher import Batcher
from node.audit import router as audit_router
from node.blacklist import router as blacklist_router
from node.blacklist.sweeper import ExpirySweeper
from node.borrower_page import router as borrower_page
from node.chain.index import EventIndex
from node.chain.setup import connect_chain
from node.chain.view import database_of
from node.chain_api import router as chain_router
from node.chain_api.sandbox import CallSandbox
from node.config import Settings
from node.consents import router as consents_router
from node.db import make_engine
from node.deps import Node
from node.disputes import router as disputes_router
from node.http_errors import install_error_handlers
from node.keys.store import load_secrets
from node.limits import BodyPace, BodyRule, KiB, MiB, RequestLimits, keep_recursion_limit
from node.logs import say
from node.members import router as members_router
from node.monitoring import router as monitoring_router
from node.peers import router as peers_router
from node.queries import router as queries_router
from node.records import router as records_router
from node.records.service import RecordKeys
from node.records.workers import Preparer, default_workers
from node.regulator import router as regulator_router
from node.relays import RelayQuota
from node.repairs import router as repairs_router
from node.repairs.service import carry_out
from node.reports import router as reports_router
from node.retention import router as retention_router
from node.retention.policy import Policy
from node.retention.service import retention_policy
from node.retention.sweeper import RetentionSweeper
from node.staff import router as staff_router
from node.staff.service import count as staff_count


def start_node(settings: Settings, *, run_batcher: bool = True) -> Node:
    """Open the store and the chain (founding a consortium on a fresh embedded one) and start
    anchoring."""
    settings.data.mkdir(parents=True, exist_ok=True)
    secrets = load_secrets(settings.keys_dir)
    engine = make_engine(settings.store_url)
    chain = connect_chain(
        data=settings.data,
        rpc=settings.rpc,
        member=secrets.member,
        member_name=settings.member_name,
        consortium=settings.consortium,
    )
    batcher = Batcher(
        engine=engine,
        chain=chain,
        batch_size=settings.batch_size,
        batch_interval=settings.batch_interval,
        confirmations=settings.confirmations,
    )
    keys = RecordKeys.from_secrets(secrets)
    workers = default_workers() if settings.workers is None else settings.workers
    index = EventIndex.for_chain(chain, engine=engine, confirmations=settings.confirmations)
    node = Node(settings, engine, keys, chain, batcher, Preparer(secrets, keys, workers), index,
                RelayQuota(settings.borrower_relays_per_day))  # fmt: skip
    say(  # what an operator needs to know at start, whatever the log level
        f"creditchain node: chain {chain.kind} (id {chain.chain_id}), "
        f"member {secrets.member.address}\n"
        f"  Consortium     {chain.addresses['Consortium']}\n"
        f"  RecordRegistry {chain.addresses['RecordRegistry']}"
    )
    if staff_count(engine=engine) == 0:
        say(
            "  no staff accounts yet; create the first admin (its token is printed once):\n"
            "    .venv/bin/creditchain staff add NAME --role admin "
            f"--data {settings.data.resolve()}"
        )
    index.start()
    if run_batcher:
        batcher.start()
    return node


def stop_node(node: Node) -> None:
    node.index.stop()
    node.batcher.stop()
    node.preparer.close()
    node.chain.close()
    node.engine.dispose()


def repair_removals(node: Node, policy: Policy) -> Callable[[], int]:
    """The records of this member's approved repair cases, removed by the retention sweeper."""
    me = node.chain.client.account.address
    return lambda: carry_out(engine=node.engine, index=node.index, me=me, policy=policy)


def open_call_sandbox(node: Node) -> CallSandbox | None:
    """Where strangers' eth_call and eth_getLogs on /rpc run: only on the embedded chain."""
    if node.chain.kind != "embedded":
        return None
    return CallSandbox(
        database_of(node.chain.client.w3),
        gas_cap=node.settings.rpc_gas_cap,
        timeout=node.settings.rpc_evm_timeout,
        max_log_blocks=node.settings.rpc_logs_max_blocks,
    )


def body_rule(settings: Settings) -> Callable[[str, str], BodyRule]:
    """Submissions and blacklist checks are large and parsed with orjson off the event loop,
    /rpc parses its own body with orjson (to answer JSON-RPC's parse error); every other body
    is small, and parsed first by RequestLimits."""

    def rule(method: str, path: str) -> BodyRule:
        if method == "POST" and path in ("/v1/records", "/v1/blacklist/checks"):
            return BodyRule(settings.max_body_mb * MiB, parse_here=False)
        return BodyRule(settings.max_request_kb * KiB, parse_here=path != "/rpc")

    return rule


def create_app(settings: Settings | None = None, *, run_batcher: bool = True) -> FastAPI:
    settings = settings or Settings()
    keep_recursion_limit()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.node = start_node(settings, run_batcher=run_batcher)
        # What start-up made (modules, contract ABIs, the chain client) lives as long as the
        # node: frozen, a full collection of the garbage collector no longer walks it, and
        # stops the node for a few milliseconds instead of a hundred or more.
        gc.collect()
        gc.freeze()
        app.state.call_sandbox = open_call_sandbox(app.state.node)
        node = app.state.node
        app.state.blacklist_sweeper = ExpirySweeper(engine=node.engine, chain=node.chain)
        policy = retention_policy(settings)
        app.state.retention_sweeper = RetentionSweeper(
            engine=node.engine, policy=policy, removals=repair_removals(node, policy)
        )
        if run_batcher:
            app.state.blacklist_sweeper.start()
            app.state.retention_sweeper.start()
        try:
            yield
        finally:
            app.state.retention_sweeper.stop()
            app.state.blacklist_sweeper.stop()
            if app.state.call_sandbox is not None:
                app.state.call_sandbox.close()
            stop_node(app.state.node)

    app = FastAPI(
        title="creditchain node",
        version="0.1.0",
        summary="Credit records shared among member lenders, anchored on a permissioned chain.",
        lifespan=lifespan,
        docs_url=None,  # served by node/docs.py, from the node itself
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(records_router.router)
    app.include_router(chain_router.router)
    staff_router.install(app)
    app.include_router(members_router.router)
    app.include_router(peers_router.router)
    app.include_router(blacklist_router.router)
    app.include_router(consents_router.router)
    app.include_router(queries_router.router)
    app.include_router(audit_router.router)
    app.include_router(regulator_router.router)
    app.include_router(disputes_router.router)
    app.include_router(retention_router.router)
    app.include_router(repairs_router.router)
    app.include_router(reports_router.router)
    borrower_page.install(app)
    openapi.install(app)
    docs.install(app)
    pace = BodyPace(settings.body_timeout, settings.body_min_rate_kb * KiB)
    app.add_middleware(RequestLimits, rule=body_rule(settings), pace=pace)
    monitoring_router.install(app)  # its request timer added last: outermost
    return app
