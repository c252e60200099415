"""HTTP answers for governance and peer refusals, in the error shape of node/errors.py."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from node.members.service import GovernanceRefused
from node.peers.signing import PeerRefused


def install_member_errors(app: FastAPI) -> None:
    @app.exception_handler(GovernanceRefused)
    async def _refused(_: Request, exc: GovernanceRefused) -> JSONResponse:
        body = {"error": exc.error, "detail": exc.detail, "field": None}
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(PeerRefused)
    async def _peer(_: Request, exc: PeerRefused) -> JSONResponse:
        body = {"error": exc.error, "detail": exc.detail, "field": None}
        return JSONResponse(body, status_code=exc.status)
