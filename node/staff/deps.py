"""Who may call a route, declared in its signature:

    AdminOrSubmitter = Annotated[StaffUser, Depends(require(ADMIN, SUBMITTER))]

    @router.post("/records")
    def submit(staff: AdminOrSubmitter, ...): ...

`require(*roles)` authenticates the bearer token and checks the role (no roles: any staff
account). Every call that reaches it, let in or refused, is written to the operator log by
OperatorLogMiddleware once the status is known. The roles show in the OpenAPI description
(describe_roles), taken from the route's security requirement, so they cannot drift apart.
"""

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from node.deps import NodeDep
from node.staff.models import ROLES
from node.staff.service import Forbidden, Refused, StaffUser, append_log, authenticate

__all__ = ["AnyStaff", "OperatorLogMiddleware", "StaffUser", "describe_roles", "require"]

_SCHEME = "staff token"
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=_SCHEME,
    description="A staff token, `cc_<id>_<secret>`, from `creditchain staff add` or "
    "POST /v1/staff.",
)
_STATE_KEY = "operator_log"


@dataclass
class _Attempt:
    """What the operator log is to record about this request, once its status is known."""

    who: str
    role: str | None
    action: str
    outcome: str  # "ok" here becomes "error" if the route then answers 4xx or 5xx


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
        try:
            user = authenticate(
                engine=node.engine,
                token=credentials.credentials if credentials else None,
                max_failures=node.settings.staff_max_failures,
            )
            if roles and user.role not in roles:
                raise Forbidden(user.name, user.role, action=action)
        except Refused as refused:
            request.state.operator_log = _Attempt(
                refused.who, refused.role, action, refused.outcome
            )
            raise
        request.state.operator_log = _Attempt(user.name, user.role, action, "ok")
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
                        "403": {"description": "role not allowed, or account locked"},
                    }
                )
            op["description"] = (op.get("description", "") + "\n\n" + line).strip()


class OperatorLogMiddleware:
    """Writes the operator log entry of every request that met a Require dependency, before
    its answer leaves the node: no staff action goes unlogged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        logged = False

        async def log(status: int) -> None:
            nonlocal logged
            attempt = state.get(_STATE_KEY)
            if logged or not isinstance(attempt, _Attempt):
                return
            logged = True
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
            )

        async def send_after_logging(message: Message) -> None:
            if message["type"] == "http.response.start":
                await log(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_after_logging)
        except Exception:
            await log(500)  # the server's error handler answers 500 after this
            raise
