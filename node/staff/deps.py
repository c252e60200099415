"""Who may call a route, declared in its signature:

    AdminOrSubmitter = Annotated[StaffUser, Depends(require(ADMIN, SUBMITTER))]

    @router.post("/records")
    def submit(staff: AdminOrSubmitter, ...): ...

`require(*roles)` first turns away a source that must wait (throttle.py), then authenticates
the bearer token and checks the role (no roles: any staff account). Every call that reaches it,
let in or refused, goes to the operator log through OperatorLogMiddleware once the status is
known: one row per call with a valid token, refusals counted per source and minute (oplog.py).
The roles show in the OpenAPI description (describe_roles), taken from the route's security
requirement, so they cannot drift apart.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.crypto.subjects import holds_resident_id
from node.deps import NodeDep
from node.staff.models import ROLES
from node.staff.oplog import RefusalTally, append_log
from node.staff.service import (
    FORBIDDEN,
    NO_TOKEN,
    OTHER_NODE,
    Forbidden,
    Refused,
    StaffUser,
    TooManyAttempts,
    Unauthenticated,
    authenticate,
)
from node.staff.throttle import Throttle, source_of

__all__ = [
    "AnyStaff",
    "OperatorLogMiddleware",
    "Refusals",
    "StaffUser",
    "describe_roles",
    "install_state",
    "require",
]

log = logging.getLogger("creditchain.staff")

_SCHEME = "staff token"
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=_SCHEME,
    description="A staff token, `cc_<node tag>_<id>_<secret>`, from `creditchain staff add` "
    "or POST /v1/staff.",
)
_STATE_KEY = "operator_log"


@dataclass
class _Attempt:
    """What the operator log is to record about this request, once its status is known."""

    who: str
    role: str | None
    action: str
    outcome: str  # "ok" here becomes "error" if the route then answers 4xx or 5xx
    source: str  # where a refusal is counted
    target: str | None = None  # the record, submission, account or proposal the call named

    @property
    def proven(self) -> bool:
        """Whether the call came with a valid token: then it is logged on its own row."""
        return self.outcome in ("ok", FORBIDDEN)


# Path parameters that name what a call touches; none of them is an identity field.
TARGET_PARAMS = ("record_id", "submission_id", "name", "proposal_id")
MAX_TARGET = 64


def target_of(request: Request) -> str | None:
    """What the call's path names, e.g. the record_id of GET /v1/records/{record_id}."""
    for param in TARGET_PARAMS:
        value = request.path_params.get(param)
        if isinstance(value, str) and value:
            if holds_resident_id(value):  # an ID number sent by mistake is never logged
                return "(withheld: holds an ID number)"
            return value[:MAX_TARGET]  # checked for length only after this dependency ran
    return None


def log_target(request: Request, target: str) -> None:
    """Name what a call touched that its path does not, e.g. the submission a POST made."""
    attempt = getattr(request.state, _STATE_KEY, None)
    if isinstance(attempt, _Attempt):
        attempt.target = target[:MAX_TARGET]


def install_state(app: FastAPI) -> None:
    """The app's throttle and its tally of refusals: in memory, one per app."""
    app.state.staff_throttle = Throttle()
    app.state.staff_refusals = RefusalTally()


async def _refusals(request: Request) -> RefusalTally:  # async: no thread hop (node/deps.py)
    return request.app.state.staff_refusals


Refusals = Annotated[RefusalTally, Depends(_refusals)]


def action_of(request: Request) -> str:
    """The method and the route's path template, e.g. "GET /v1/records/{record_id}"."""
    route = request.scope.get("route")
    path = route.path_format if isinstance(route, APIRoute) else request.url.path
    return f"{request.method} {path}"


def require(*roles: str) -> Callable[..., StaffUser]:
    """The dependency for a route that staff of `roles` may call (none given: any staff
    account). The roles also go into the route's OpenAPI security requirement, from which
    describe_roles() writes the "Roles:" line."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles: {unknown}")

    def staff_user(
        request: Request,
        node: NodeDep,
        credentials: Annotated[
            HTTPAuthorizationCredentials | None, Security(_bearer, scopes=list(roles))
        ],
    ) -> StaffUser:
        action = action_of(request)
        source = source_of(request.client.host if request.client else None)
        throttle: Throttle = request.app.state.staff_throttle
        try:
            wait = throttle.wait(source)  # before any hashing or store work
            if wait:
                raise TooManyAttempts(wait)
            try:
                user = authenticate(
                    engine=node.engine,
                    token=credentials.credentials if credentials else None,
                    source=source,
                    max_failures=node.settings.staff_max_failures,
                )
            except Unauthenticated as refused:
                # no token is a question, another node's token a mistake, neither a guess
                if refused.outcome not in (NO_TOKEN, OTHER_NODE):
                    throttle.refused(source, free=node.settings.staff_slowdown_after)
                raise
            if roles and user.role not in roles:
                raise Forbidden(user.name, user.role, action=action)
        except Refused as refused:
            request.state.operator_log = _Attempt(
                refused.who, refused.role, action, refused.outcome, source
            )
            raise
        request.state.operator_log = _Attempt(
            user.name, user.role, action, "ok", source, target_of(request)
        )
        return user

    return staff_user


AnyStaff = Annotated[StaffUser, Depends(require())]


def describe_roles(schema: dict[str, Any]) -> None:
    """Add to every operation's OpenAPI description which roles may call it."""
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            if not isinstance(op, dict) or "Roles: " in op.get("description", ""):
                continue  # not an operation, or described already (the schema is cached)
            scopes = [r.get(_SCHEME) for r in op.get("security", []) if _SCHEME in r]
            if not scopes:
                line = "Roles: open to anyone, no staff token needed"
            else:
                line = "Roles: " + (", ".join(scopes[0]) or "any staff account")
                op.setdefault("responses", {}).update(
                    {
                        "401": {"description": "no valid staff token"},
                        "403": {"description": "the token's role may not call this route"},
                        "429": {
                            "description": "too many refused tokens from this address; "
                            "retry after the seconds in Retry-After"
                        },
                    }
                )
            op["description"] = (op.get("description", "") + "\n\n" + line).strip()


class OperatorLogMiddleware:
    """Logs every request that met a require() dependency before its answer leaves the node:
    a call with a valid token on its own row, at once; a refusal into the tally, which is
    appended each minute and when the node stops (it watches the app's lifespan for that)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._minutely: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._watching(scope["app"], receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        logged = False

        async def log_call(status: int) -> None:
            nonlocal logged
            attempt = state.get(_STATE_KEY)
            if logged or not isinstance(attempt, _Attempt):
                return
            logged = True
            if not attempt.proven:
                scope["app"].state.staff_refusals.add(
                    who=attempt.who,
                    role=attempt.role,
                    action=attempt.action,
                    outcome=attempt.outcome,
                    status=status,
                    client=attempt.source,
                )
                return
            outcome = attempt.outcome
            if outcome == "ok" and status >= 400:
                outcome = "error"
            client = scope.get("client")
            await run_in_threadpool(
                append_log,
                engine=scope["app"].state.node.engine,
                who=attempt.who,
                role=attempt.role,
                action=attempt.action,
                outcome=outcome,
                status=status,
                client=client[0] if client else None,
                target=attempt.target,
            )

        async def send_after_logging(message: Message) -> None:
            if message["type"] == "http.response.start":
                await log_call(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_after_logging)
        except Exception:
            await log_call(500)  # the server's error handler answers 500 after this
            raise

    def _watching(self, app: Any, receive: Receive) -> Callable[[], Awaitable[Message]]:
        """`receive` for the lifespan: starts the minutely append, and appends everything
        when the node is told to stop, while its store is still open."""

        async def watched() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._minutely = asyncio.create_task(self._each_minute(app))
            elif message["type"] == "lifespan.shutdown":
                if self._minutely is not None:
                    self._minutely.cancel()
                await _append_refusals(app, everything=True)
            return message

        return watched

    async def _each_minute(self, app: Any) -> None:
        while True:
            await asyncio.sleep(61 - time.time() % 60)  # just after a minute ends
            await _append_refusals(app, everything=False)


async def _append_refusals(app: Any, *, everything: bool) -> None:
    node = getattr(app.state, "node", None)
    if node is None:
        return
    try:
        await run_in_threadpool(
            app.state.staff_refusals.flush, engine=node.engine, everything=everything
        )
    except Exception:  # kept in the tally for the next try
        log.exception("could not append refused calls to the operator log")
