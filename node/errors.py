"""Domain errors mapped to HTTP in one place. Every error body is
{"error": code, "detail": text, "field": name or null}; none ever carries identity."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from node.members.service import GovernanceRefused
from node.openapi import methods_at
from node.peers.signing import PeerRefused
from node.records.service import (
    InvalidSubmission,
    NotAnchored,
    RecordNotFound,
    SubmissionNotFound,
)
from node.staff.service import (
    Forbidden,
    InvalidStaff,
    LastActiveAdmin,
    OtherNodeToken,
    StaffDisabled,
    StaffExists,
    StaffNotFound,
    TooManyAttempts,
    Unauthenticated,
)


def error_body(code: str, detail: str, field: str | None = None, **extra: object) -> dict:
    return {"error": code, "detail": detail, "field": field, **extra}


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    """An HTTP-level refusal (no such route, body too large, ...) as an error body; its code
    is the exception's own `code` if it has one."""
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidSubmission)
    async def _bad_body(_: Request, exc: InvalidSubmission) -> JSONResponse:
        return JSONResponse(error_body("invalid_body", exc.detail, exc.field), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first["loc"] if p not in ("body", "query", "path")]
        return JSONResponse(
            error_body("invalid_request", str(first["msg"]), ".".join(loc) or None), status_code=422
        )

    @app.exception_handler(RecordNotFound)
    async def _no_record(_: Request, exc: RecordNotFound) -> JSONResponse:
        return JSONResponse(error_body("record_not_found", "no such record"), status_code=404)

    @app.exception_handler(SubmissionNotFound)
    async def _no_submission(_: Request, exc: SubmissionNotFound) -> JSONResponse:
        return JSONResponse(
            error_body("submission_not_found", "no such submission"), status_code=404
        )

    @app.exception_handler(NotAnchored)
    async def _not_anchored(_: Request, exc: NotAnchored) -> JSONResponse:
        return JSONResponse(error_body("not_anchored", str(exc), state=exc.state), status_code=409)

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        # one answer whatever the reason (unknown id, wrong secret, locked, disabled), so that
        # it tells nothing of which accounts exist; the operator log keeps the reason
        return JSONResponse(
            error_body("unauthenticated", "a valid staff token is needed: Authorization: Bearer"),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(OtherNodeToken)
    async def _other_node(_: Request, exc: OtherNodeToken) -> JSONResponse:
        # its tag is not this node's: saying so tells nothing of this node's accounts
        detail = "this token was made by another node; use a token from this node's staff"
        return JSONResponse(
            error_body("other_node_token", detail),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(TooManyAttempts)
    async def _too_many(_: Request, exc: TooManyAttempts) -> JSONResponse:
        detail = f"too many refused tokens from this address; retry after {exc.retry_after} s"
        return JSONResponse(
            error_body("too_many_attempts", detail, retry_after=exc.retry_after),
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        detail = f"role {exc.role} may not call {exc.action}"
        return JSONResponse(error_body("forbidden", detail), status_code=403)

    @app.exception_handler(StaffNotFound)
    async def _no_staff(_: Request, exc: StaffNotFound) -> JSONResponse:
        return JSONResponse(
            error_body("staff_not_found", "no staff account by that name"), status_code=404
        )

    @app.exception_handler(StaffExists)
    async def _staff_exists(_: Request, exc: StaffExists) -> JSONResponse:
        detail = "a staff account by that name exists"
        return JSONResponse(error_body("staff_exists", detail, "name"), status_code=409)

    @app.exception_handler(LastActiveAdmin)
    async def _last_admin(_: Request, exc: LastActiveAdmin) -> JSONResponse:
        detail = "the last enabled admin cannot be disabled; add or enable another admin first"
        return JSONResponse(error_body("last_admin", detail, "name"), status_code=409)

    @app.exception_handler(StaffDisabled)
    async def _staff_disabled(_: Request, exc: StaffDisabled) -> JSONResponse:
        detail = "the account is disabled, which unlocking does not change; enable it instead"
        return JSONResponse(error_body("staff_disabled", detail, "name"), status_code=409)

    @app.exception_handler(InvalidStaff)
    async def _invalid_staff(_: Request, exc: InvalidStaff) -> JSONResponse:
        return JSONResponse(error_body("invalid_request", exc.detail, exc.field), status_code=422)

    @app.exception_handler(GovernanceRefused)
    async def _governance(_: Request, exc: GovernanceRefused) -> JSONResponse:
        return JSONResponse(error_body(exc.error, exc.detail), status_code=exc.status)

    @app.exception_handler(PeerRefused)
    async def _peer(_: Request, exc: PeerRefused) -> JSONResponse:
        return JSONResponse(error_body(exc.error, exc.detail), status_code=exc.status)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("internal_error", "the node failed on this request; see its log"),
            status_code=500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:  # Starlette's names the methods of one route, not the path's
            allow = ", ".join(methods_at(request.app, request.url.path))
            exc = StarletteHTTPException(405, exc.detail, headers={"Allow": allow})
        return http_error_response(exc)
