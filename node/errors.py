"""The one base of every domain's refusals. It lives on the lowest floor (no web framework
here): a service raises a named failure, and the HTTP layer (node/http_errors.py) answers it as
{"error": code, "detail": text, "field": name or null} with the class's status. No error ever
carries identity: its detail is the class's own text unless the raiser gives a safe one."""

from typing import Any


class DomainError(Exception):
    """A refusal the caller can act on. Subclasses name the failure and set `code`, `status`
    (the HTTP status it is answered with), a default `detail` and the `field` it concerns."""

    code: str = "error"
    status: int = 400
    detail: str = "the request was refused"
    field: str | None = None

    def __init__(self, *args: Any, detail: str | None = None, field: str | None = None) -> None:
        # args are for the node's own log and tracebacks; they never reach the answer
        super().__init__(*(args or (detail or self.detail,)))
        if detail is not None:
            self.detail = detail
        if field is not None:
            self.field = field

    def context(self) -> dict[str, Any]:
        """Fields the answer carries beside error, detail and field (none by default)."""
        return {}

    def headers(self) -> dict[str, str]:
        """Headers the answer carries (none by default)."""
        return {}
