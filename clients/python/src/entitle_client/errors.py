"""Typed exceptions: every GraphQL error surfaces as an ``EntitleError`` carrying ``extensions.code``."""

from __future__ import annotations

from typing import Any


class EntitleError(Exception):
    """Base of every error this client raises."""


class EntitleUnavailable(EntitleError):
    """The service could not be reached (network error, timeout or HTTP 5xx) after the retries."""


class EntitleAPIError(EntitleError):
    """The service answered with a GraphQL error; ``code`` is its ``extensions.code``."""

    code: str = "INTERNAL"

    def __init__(self, message: str, *, code: str | None = None, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.errors = errors or []


class Unauthenticated(EntitleAPIError):
    code = "UNAUTHENTICATED"


class Forbidden(EntitleAPIError):
    code = "FORBIDDEN"


class BadUserInput(EntitleAPIError):
    code = "BAD_USER_INPUT"


class NotFound(EntitleAPIError):
    code = "NOT_FOUND"


class Conflict(EntitleAPIError):
    code = "CONFLICT"


class NotImplementedByServer(EntitleAPIError):
    """The server does not build this operation yet (``NOT_IMPLEMENTED``)."""

    code = "NOT_IMPLEMENTED"


_BY_CODE: dict[str, type[EntitleAPIError]] = {
    cls.code: cls
    for cls in (Unauthenticated, Forbidden, BadUserInput, NotFound, Conflict, NotImplementedByServer)
}


def error_from(errors: list[dict[str, Any]]) -> EntitleAPIError:
    """The typed exception for a GraphQL ``errors`` list (its first error decides the class)."""
    first = errors[0] if errors else {}
    code = str((first.get("extensions") or {}).get("code") or "INTERNAL")
    message = str(first.get("message") or "the Entitle service answered with an error")
    return _BY_CODE.get(code, EntitleAPIError)(message, code=code, errors=errors)
