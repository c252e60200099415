"""The API docs at /docs, served whole by the node itself: Swagger UI's script, style and icon
come from the swagger-ui-bundle package, not a CDN, and no font is fetched from anywhere, so
the page works on a closed network. ReDoc (which fetches its fonts) is not served."""

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS = "/docs/assets"
_DIR = Path(swagger_ui_bundle.swagger_ui_path)
_FILES = {  # the page needs these and nothing else of the package
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def install(app: FastAPI) -> None:
    """/docs and its assets; the app must be made with docs_url=None and redoc_url=None."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # else it asks a public validator
        )

    @app.get(ASSETS + "/{asset}", include_in_schema=False)
    def docs_asset(asset: str) -> FileResponse:
        media_type = _FILES.get(asset)
        if media_type is None:
            raise HTTPException(404, "no such asset")
        return FileResponse(_DIR / asset, media_type=media_type)
