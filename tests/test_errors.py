"""Every refusal is a DomainError with its own code and status, and the layers below HTTP
know nothing of it."""

import ast
import builtins
import importlib
import pkgutil
from pathlib import Path

import pytest

import node
from node.errors import DomainError
from node.http_errors import domain_error_response

NODE = Path(node.__file__).parent
# the HTTP layer: the app, its routes, request dependencies and middleware
HTTP_MODULES = {
    "app.py", "http_errors.py", "openapi.py", "limits.py", "deps.py", "router.py", "docs.py",
}  # fmt: skip
HTTP_ROOMS = {"chain_api"}  # /v1/chain and /rpc, its JSON-RPC and its call sandbox


def _all_modules() -> None:
    for info in pkgutil.walk_packages([str(NODE)], "node."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_domain_error_has_a_code_and_an_error_status():
    _all_modules()
    errors = _subclasses(DomainError)
    names = {e.__name__ for e in errors}
    # the refusals of each domain are among them
    assert {"RecordNotFound", "NotAnchored", "LastActiveAdmin", "Unauthenticated",
            "NotAdmin", "BadSignature"} <= names  # fmt: skip
    for error in errors:
        assert isinstance(error.code, str) and error.code, error
        assert 400 <= error.status <= 599, error
        assert isinstance(error.detail, str) and error.detail, error


def test_services_raise_only_domain_errors_for_refusals():
    """A `raise Name(...)` in a service names a DomainError; a builtin one is a broken
    invariant (the node's own fault, answered 500), never a caller's refusal."""
    _all_modules()
    known = {e.__name__ for e in _subclasses(DomainError)}
    records = [NODE / "records" / f"{name}.py" for name in ("intake", "reads", "receipts")]
    services = [*NODE.glob("*/service.py"), *records]
    for path in services:
        for node_ in ast.walk(ast.parse(path.read_text())):
            if isinstance(node_, ast.Raise) and isinstance(node_.exc, ast.Call):
                func = node_.exc.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name.startswith("_") or name in vars(builtins):
                    continue  # a helper that builds the error, e.g. members' _refused
                assert name in known, f"{path.relative_to(NODE)} raises {name}"


def test_staff_refusals_answer_alike_whatever_the_reason():
    from node.staff import service

    answers = {
        (r.status_code, r.body, r.headers.get("www-authenticate"))
        for r in (
            domain_error_response(service.Unauthenticated(outcome, "alice", "admin"))
            for outcome in (
                service.UNKNOWN_ACCOUNT,
                service.WRONG_SECRET,
                service.LOCKED,
                service.DISABLED,
                service.NO_TOKEN,
                service.BAD_TOKEN,
            )
        )  # fmt: skip
    }
    assert len(answers) == 1
    status, body, auth = answers.pop()
    assert status == 401 and auth == "Bearer" and b"alice" not in body


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.Import):
            found |= {a.name.split(".")[0] for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module:
            found.add(n.module.split(".")[0])
            if n.module.startswith("node."):
                found.add(n.module)
    return found


@pytest.mark.parametrize(
    "path",
    sorted(
        {
            *NODE.glob("*/service.py"),
            *NODE.glob("*/models.py"),
            *NODE.glob("crypto/*.py"),
            NODE / "errors.py",
            *NODE.glob("chain/*.py"),
        }
    ),  # fmt: skip
    ids=lambda p: str(p.relative_to(NODE)),
)
def test_services_models_and_crypto_know_nothing_of_http(path):
    imported = _imports(path)
    assert not imported & {"fastapi", "starlette"}, "imports the web framework"
    assert "node.http_errors" not in imported


def _http_layer(path: Path) -> bool:
    return path.name in HTTP_MODULES or path.parent.name in HTTP_ROOMS


def test_only_the_http_layer_imports_the_web_framework():
    allowed = {NODE / "records/workers.py"}  # runs a submission's parsing off the event loop
    for path in NODE.rglob("*.py"):
        if not _http_layer(path) and path not in allowed:
            assert not _imports(path) & {"fastapi", "starlette"}, path.relative_to(NODE)


def test_no_domain_module_imports_the_http_error_module():
    for path in NODE.rglob("*.py"):
        if not _http_layer(path):
            assert "node.http_errors" not in _imports(path), path.relative_to(NODE)
