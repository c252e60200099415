"""The node: its parts assembled, the batcher and the event index running beside the API."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from node import openapi
from node.anchoring.batcher import Batcher
from node.chain import router as chain_router
from node.chain.index import EventIndex
from node.chain.setup import connect_chain
from node.config import Settings
from node.db import make_engine
from node.deps import Node
from node.errors import install_error_handlers
from node.members import router as members_router
from node.peers import router as peers_router
from node.records import router as records_router
from node.records.service import RecordKeys
from node.records.workers import Preparer, default_workers
from node.secrets import load_secrets
from node.staff import router as staff_router
from node.staff.service import count as staff_count


def start_node(settings: Settings, *, run_batcher: bool = True) -> Node:
    """Open the store and the chain (founding a consortium on a fresh embedded one) and start
    anchoring."""
    settings.data.mkdir(parents=True, exist_ok=True)
    secrets = load_secrets(settings.keys_dir)
    engine = make_engine(settings.db_path)
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
    node = Node(settings, engine, keys, chain, batcher, Preparer(secrets, keys, workers), index)
    print(  # what an operator needs to know at start, whatever the log level
        f"creditchain node: chain {chain.kind} (id {chain.chain_id}), "
        f"member {secrets.member.address}\n"
        f"  Consortium     {chain.addresses['Consortium']}\n"
        f"  RecordRegistry {chain.addresses['RecordRegistry']}",
        flush=True,
    )
    if staff_count(engine=engine) == 0:
        print(
            "  no staff accounts yet; create the first admin (its token is printed once):\n"
            "    .venv/bin/creditchain staff add NAME --role admin "
            f"--data {settings.data.resolve()}",
            flush=True,
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


def create_app(settings: Settings | None = None, *, run_batcher: bool = True) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.node = start_node(settings, run_batcher=run_batcher)
        try:
            yield
        finally:
            stop_node(app.state.node)

    app = FastAPI(
        title="creditchain node",
        version="0.1.0",
        summary="Credit records shared among member lenders, anchored on a permissioned chain.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(records_router.router)
    app.include_router(chain_router.router)
    staff_router.install(app)
    app.include_router(members_router.router)
    app.include_router(peers_router.router)
    openapi.install(app)
    return app
