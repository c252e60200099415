"""GET /healthz, /readyz and /metrics: for the process supervisor, the load balancer and
Prometheus. Open to anyone, as such probes are: none of them carries identity, a token, a
record id or a subject key, and none changes anything.

RequestTimer times every request, by route template: the outermost middleware, so that
whatever refuses a request is timed too. The route is the template FastAPI matched
(/v1/records/{record_id}), never the path, so no record id or subject key becomes a label."""

import time
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.deps import NodeDep
from node.metrics import REQUEST_SECONDS
from node.monitoring.collector import registry_for
from node.monitoring.readiness import OK, require_ready

router = APIRouter(tags=["operations"])
CHAIN_TIMEOUT = 5.0  # seconds /readyz waits for the chain


class Health(BaseModel):
    status: str = Field(description='"ok"')


class Ready(BaseModel):
    status: str = Field(description='"ready"')
    parts: dict[str, str] = Field(description='store, chain and index, each "ok"')


@router.get("/healthz", summary="The process is up (touches neither store nor chain)")
async def healthz() -> Health:
    """Answered on the event loop itself, never queued behind the thread pool's work."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Store, chain and event index ready",
    responses={
        503: {
            "description": "not ready (not_ready): `parts` names each of store, chain and index "
            'with "ok" or why not, e.g. the chain unreachable or the index catching up'
        }
    },
)
async def readyz(node: NodeDep) -> Ready:
    """Ready when the store answers, the chain answers within 5 s, and the event index has
    read the chain to within the confirmation depth (one block when it is 0)."""
    head: int | None = None
    chain = OK
    with anyio.move_on_after(CHAIN_TIMEOUT) as scope:
        try:
            head = await anyio.to_thread.run_sync(
                node.chain.client.block_number, abandon_on_cancel=True
            )
        except Exception as err:
            chain = f"unreachable ({type(err).__name__})"
    if scope.cancelled_caught:
        chain = f"no answer within {CHAIN_TIMEOUT:g} s"
    parts = await anyio.to_thread.run_sync(require_ready, node, head, chain)
    return Ready(status="ready", parts=parts)


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Records accepted and rejected (by field), pending and the age of the oldest, batches
    anchored, the event index's lag, other members' queries served and refused (by reason),
    and request latency by route template; no identity, no token, no record id."""
    registry: Any = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


# -- request latency -----------------------------------------------------------------------

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no route: a 404, or refused before routing


class RequestTimer:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in _METHODS else "other"
            REQUEST_SECONDS.labels(method, route, f"{status // 100}xx").observe(
                time.perf_counter() - started
            )


def install(app: Any) -> None:
    """The routes, the registry they show, and the request timer (as the outermost
    middleware: call this after every other add_middleware)."""
    app.include_router(router)
    app.state.metrics = registry_for(lambda: getattr(app.state, "node", None))
    app.add_middleware(RequestTimer)
