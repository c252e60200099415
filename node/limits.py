"""What a stranger's request may cost before the node does any work for it.

RequestLimits is the outermost middleware: a body over its route's limit is refused with 413
from its Content-Length alone, or cut off as it streams; a body that is not declared JSON is
a 415; a body that does not arrive in time (BodyPace) is a 408; on the small routes the body
is read (it is small) and parsed once with orjson, whose depth limit (1024) holds whatever
the interpreter's recursion limit, so no body nested deeper reaches the standard library's
parser behind FastAPI's models. Done here rather than in a custom route class, which every
router would have to name: no route can be left out.

Below it, the server's protocol (head_deadline_protocol) limits the time a request's head
may take and the connections served at once."""

import asyncio
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.http_errors import error_body, http_error_response

KiB, MiB = 2**10, 2**20
HEAD_TIMEOUT = 10.0  # seconds a connection has to send a request's line and headers
OWN_FILES = 256  # files the node keeps open besides its connections: store, chain, logs, pipes
_CLOSE = (b"connection", b"close")


def keep_recursion_limit() -> None:
    """py_ecc sets the recursion limit to 100,000 when imported: deeper than the C stack
    holds, so a parser that relies on the limit crashes the process instead of refusing.
    Put it back to what py-evm asks for its 1024 nested EVM calls (py_ecc's own recursion
    is at most 256 deep, one level per scalar bit), once both have been imported."""
    import eth
    import py_ecc  # noqa: F401  (imported for the limit it sets, before we set ours)

    sys.setrecursionlimit(eth.EVM_RECURSION_LIMIT)


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit // KiB} KiB"


class BodyTooLarge(HTTPException):
    code = "body_too_large"

    def __init__(self, limit: int) -> None:
        detail = f"the body is larger than {_size(limit)}, the limit on this route"
        super().__init__(413, detail, headers={"Connection": "close"})


class UnsupportedMediaType(HTTPException):
    code = "unsupported_media_type"

    def __init__(self) -> None:
        detail = "the node takes JSON bodies only: send Content-Type: application/json"
        super().__init__(415, detail, headers={"Connection": "close"})


class BodyTimeout(HTTPException):
    code = "body_timeout"

    def __init__(self, pace: "BodyPace") -> None:
        detail = (
            f"the body did not arrive in time: the node waits {pace.timeout:g} s for a body, "
            f"and one more second for every {_size(pace.min_rate)} that arrives"
        )
        super().__init__(408, detail, headers={"Connection": "close"})


class BodyNotJSON(HTTPException):
    code = "invalid_body"

    def __init__(self, reason: str) -> None:
        super().__init__(422, f"the body is not JSON: {reason}")


@dataclass(frozen=True)
class BodyPace:
    """How long a body may take to arrive, as Apache's mod_reqtimeout counts it: `timeout`
    seconds from the request's head, and one second more for every `min_rate` bytes received.
    A body that keeps up `min_rate` bytes a second never runs out of time, however large;
    one trickled a byte now and then is cut off after about `timeout` seconds."""

    timeout: float  # seconds
    min_rate: int  # bytes a second

    def allowed(self, received: int) -> float:
        """Seconds from the head by which the body must have arrived, `received` bytes in."""
        return self.timeout + received / self.min_rate


@dataclass(frozen=True)
class BodyRule:
    limit: int  # bytes
    parse_here: bool  # False: the route parses its body itself, with orjson


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestLimits:
    """Sizes, media types and the time a body may take, checked before any other middleware
    or route sees a request.

    A body left unread when the answer starts is not drained afterwards: the connection
    closes, so a stranger cannot make the node read what it has already refused."""

    def __init__(self, app: ASGIApp, rule: Callable[[str, str], BodyRule], pace: BodyPace) -> None:
        self.app = app
        self.rule = rule
        self.pace = pace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        declared = headers.get(b"content-length", b"").decode("latin-1")
        chunked = b"transfer-encoding" in headers
        if not chunked and (not declared.isdigit() or int(declared) == 0):
            await self.app(scope, receive, send)  # no body to limit
            return
        rule = self.rule(scope["method"], scope["path"])
        if declared.isdigit() and int(declared) > rule.limit:
            await http_error_response(BodyTooLarge(rule.limit))(scope, receive, send)
            return
        if not _is_json(headers.get(b"content-type", b"").decode("latin-1")):
            await http_error_response(UnsupportedMediaType())(scope, receive, send)
            return

        received, done = 0, False
        head_at = asyncio.get_running_loop().time()

        async def counted() -> Message:
            nonlocal received, done
            if done:  # the body is in: what is left to wait for is the client leaving
                return await receive()
            try:
                async with asyncio.timeout_at(head_at + self.pace.allowed(received)):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.pace) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                done = not message.get("more_body", False)
                if received > rule.limit:
                    raise BodyTooLarge(rule.limit)
            return message

        started = False

        async def closing_if_unread(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not done:
                    message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
            await send(message)

        try:
            if rule.parse_here:
                body = await _read(counted)
                if body is None:
                    return  # the client left
                try:
                    orjson.loads(body)
                except orjson.JSONDecodeError as err:
                    await http_error_response(BodyNotJSON(str(err)))(scope, receive, send)
                    return
                await self.app(scope, _replay(body, receive), closing_if_unread)
            else:
                await self.app(scope, counted, closing_if_unread)
        except (BodyTooLarge, BodyTimeout) as refused:  # the route did not answer it itself
            if started:
                raise
            await http_error_response(refused)(scope, receive, send)


async def _read(receive: Receive) -> bytes | None:
    """The whole body (receive enforces the limit), or None if the client disconnected."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body read already, then waits as the server would."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def too_many_connections(scope: Scope, receive: Receive, send: Send) -> None:
    """What a request is answered past the cap on connections, in the one error body."""
    body = orjson.dumps(
        error_body(
            "too_many_connections",
            "the node is serving as many connections as it takes; try again shortly",
        )
    )
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), _CLOSE]  # fmt: skip
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def head_deadline_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, with a deadline on each request's head: uvicorn waits for a
    request line and headers as long as the client likes, so connections that send a byte
    now and then (slow loris) would each hold a file descriptor until the process has none
    left, and refuses every caller. A connection that has not sent a whole head within
    HEAD_TIMEOUT seconds of opening, or of the first byte after its last answer, is closed.

    Past uvicorn's `limit_concurrency` a request is answered 503 and its connection closed;
    uvicorn's own answer is plain text, so it is swapped for the node's error body."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol
    from uvicorn.protocols.http.flow_control import service_unavailable

    class HeadDeadline(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
                self._arm()  # the first byte of the next request
            super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _start_asgi_task(self, cycle: Any, app: ASGIApp) -> None:  # httptools' protocol
            super()._start_asgi_task(
                cycle, too_many_connections if app is service_unavailable else app
            )

        def _arm(self) -> None:
            before = self.cycle  # a head received in time starts a new cycle

            def overdue() -> None:
                self._deadline = None
                if self.cycle is before and not self.transport.is_closing():
                    self.transport.close()

            self._deadline = self.loop.call_later(HEAD_TIMEOUT, overdue)

    return HeadDeadline


def open_files_for(connections: int) -> str | None:
    """Raise this process's soft limit on open files to its hard limit, so that `connections`
    sockets and the node's own files fit; a warning for the operator if they still do not."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # an unlimited hard limit the kernel will not take
            pass
    if soft != resource.RLIM_INFINITY and connections + OWN_FILES > soft:
        most = "unlimited" if hard == resource.RLIM_INFINITY else hard
        return (
            f"--max-connections is {connections}, but this process may open {soft} files "
            f"(hard limit {most}) and keeps about {OWN_FILES} for itself: past "
            f"{max(soft - OWN_FILES, 0)} connections it may fail to accept more; raise the "
            f"limit (ulimit -n) or lower --max-connections"
        )
    return None
