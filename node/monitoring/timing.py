"""How long each API request takes, by route template: the outermost middleware, so that
whatever refuses a request is timed too. The route is the template FastAPI matched
(/v1/records/{record_id}), never the path, so no record id or subject key becomes a label."""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.metrics import REQUEST_SECONDS

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
