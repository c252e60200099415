"""Domain errors mapped to HTTP in one place. Every error body is
{"error": code, "detail": text, "field": name or null}; none ever carries identity."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from node.records.service import (
    InvalidSubmission,
    NotAnchored,
    RecordNotFound,
    SubmissionNotFound,
)


def error_body(code: str, detail: str, field: str | None = None, **extra: object) -> dict:
    return {"error": code, "detail": detail, "field": field, **extra}


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

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body("internal_error", "the node failed on this request; see its log"),
            status_code=500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)
