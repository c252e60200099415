"""The borrower's page at /borrower/ (static files shipped in this package; the ethers
bundle is copied from node_modules by scripts/setup) and the one public read it starts from."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from node.borrower_page import service
from node.deps import NodeDep

STATIC = Path(__file__).parent / "static"
router = APIRouter(prefix="/v1", tags=["borrower page"])


@router.get("/borrower/directory", summary="What a borrower's page needs: members, purposes")
def directory(node: NodeDep) -> dict[str, Any]:
    """No token: the members (name, address, status), this node's member address, the chain
    id and the contracts a page checks receipts and consents against, and the purposes a
    consent may name (their number on chain, name and Chinese label). All of it is public on
    chain; the members are as of `as_of_block` of the node's index."""
    return service.directory(
        index=node.index, chain=node.chain, login_max_age=node.settings.login_max_age
    )


def install(app: FastAPI) -> None:
    app.include_router(router)

    @app.get("/borrower", include_in_schema=False)
    def to_page() -> RedirectResponse:
        return RedirectResponse("/borrower/")

    app.mount("/borrower", StaticFiles(directory=STATIC, html=True), name="borrower")
