"""Errors answered over HTTP, in one place. Every error body is
{"error": code, "detail": text, "field": name or null}: a DomainError with its own code and
status, a request FastAPI could not parse, an HTTP-level refusal (no such route, body too
large, ...), or anything unexpected (500, detail in the node's log only)."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from node.errors import DomainError
from node.openapi import methods_at


def error_body(code: str, detail: str, field: str | None = None, **extra: object) -> dict:
    return {"error": code, "detail": detail, "field": field, **extra}


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def domain_error_response(exc: DomainError) -> JSONResponse:
    body = error_body(exc.code, exc.detail, exc.field, **exc.context())
    return JSONResponse(body, status_code=exc.status, headers=exc.headers() or None)


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    """An HTTP-level refusal (no such route, body too large, ...) as an error body; its code
    is the exception's own `code` if it has one."""
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first["loc"] if p not in ("body", "query", "path")]
        return JSONResponse(
            error_body("invalid_request", str(first["msg"]), ".".join(loc) or None), status_code=422
        )

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
