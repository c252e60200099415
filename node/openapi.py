"""The OpenAPI description the node serves at /openapi.json (and /docs), made true in one
place: the error answers every route can give, in the one body they all share, and request
schemas whose references resolve.

Routes declare only what is theirs (a 409 for a duplicate name, a 503 for a transaction that
did not land); what follows from a route's shape is added here: a staff token can be refused
(401, 403, 429), a path can name nothing (404), a body can be too large (413) or too slow
(408), a JSON body can be unparsable (400) or of the wrong type (415), a parameter can be
invalid (422), and any request can find the node serving all the connections it takes (503).
FastAPI's own 422 body (HTTPValidationError) is replaced by Error, which is what
node/http_errors.py answers.
"""

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from node.staff.deps import describe_roles


class Error(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="allow")  # some add context, e.g. not_anchored's state

    error: str = Field(description="a stable code, e.g. record_not_found or invalid_request")
    detail: str = Field(description="what went wrong, for a person; never identity or secrets")
    field: str | None = Field(description="the field at fault, dotted, if one is")


ERROR_REF = "#/components/schemas/Error"

# status -> its description where the route gives none
_COMMON = {
    "400": "the body could not be parsed",
    "401": "no valid staff token",
    "408": "the body did not arrive in time (body_timeout); the connection is closed",
    "403": "the token's role may not call this, or its account is locked or disabled",
    "413": "the body is over the node's size limit",
    "415": "the body is not application/json",
    "422": "a parameter or the body is invalid; nothing changed",
    "429": "too many failed attempts from this client; wait before trying again",
    "503": "the node is serving all the connections it takes (too_many_connections); "
    "try again shortly",
}
_STAFF_SCHEME = "staff token"
_FASTAPI_422 = ("HTTPValidationError", "ValidationError")


def install(app: FastAPI) -> None:
    """Serve the description as this module makes it. FastAPI caches the schema, so this
    runs once per process."""
    make_schema: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = make_schema()
            describe_roles(schema)
            document(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def methods_at(app: FastAPI, path: str) -> list[str]:
    """The methods the description lists for `path`, e.g. for a 405's Allow header."""
    found: set[str] = set()
    for template, ops in app.openapi()["paths"].items():
        pattern = "[^/]+".join(re.escape(part) for part in re.split(r"\{[^/}]+\}", template))
        if re.fullmatch(pattern, path):
            found |= {method.upper() for method in ops}
    return sorted(found)


def document(schema: dict[str, Any]) -> None:
    """Add the error answers each operation can give, all as Error; move embedded $defs
    into components."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_422:
        components.pop(name, None)
    components["Error"] = Error.model_json_schema()
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            body = op.get("requestBody")
            if body:
                for media in body.get("content", {}).values():
                    _hoist_defs(media.get("schema", {}), components)
            responses = op.setdefault("responses", {})
            for status, description in _statuses(op).items():
                response = responses.setdefault(status, {})
                if response.get("description") in (None, "", "Validation Error"):
                    response["description"] = description
            for status, response in responses.items():
                if status[0] in "45":
                    _as_error(response)


def _statuses(op: dict[str, Any]) -> dict[str, str]:
    """The error statuses that follow from the operation's shape, each with its description."""
    # any request may carry a body, whose size and time are limited; any may come one
    # connection past the cap
    found = {s: _COMMON[s] for s in ("408", "413", "503")}
    in_path = [p["name"] for p in op.get("parameters", []) if p.get("in") == "path"]
    if in_path:
        found["404"] = "nothing by that " + " and ".join(in_path)
    if op.get("parameters") or op.get("requestBody"):
        found["422"] = _COMMON["422"]
    if "application/json" in op.get("requestBody", {}).get("content", {}):
        found |= {s: _COMMON[s] for s in ("400", "415")}
    if any(_STAFF_SCHEME in req for req in op.get("security", [])):
        found |= {s: _COMMON[s] for s in ("401", "403", "429")}
    return found


def _as_error(response: dict[str, Any]) -> None:
    """The response's body is Error; an example given by the route is kept."""
    response.setdefault("description", "refused")
    media = response.setdefault("content", {}).setdefault("application/json", {})
    media["schema"] = {"$ref": ERROR_REF}
    if isinstance(media.get("example"), dict):  # FastAPI drops its nulls
        media["example"].setdefault("field", None)


def _hoist_defs(node: Any, components: dict[str, Any]) -> None:
    """Move a model's embedded `$defs` (pydantic's model_json_schema) into the components,
    rewriting `#/$defs/X` to `#/components/schemas/X`, so that the references resolve."""
    if isinstance(node, dict):
        for name, definition in node.pop("$defs", {}).items():
            _hoist_defs(definition, components)
            if components.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas named {name}")
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
        for value in node.values():
            _hoist_defs(value, components)
    elif isinstance(node, list):
        for value in node:
            _hoist_defs(value, components)
