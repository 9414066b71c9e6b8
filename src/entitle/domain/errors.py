"""Errors the domain and services raise; the GraphQL layer maps ``code`` to ``extensions.code``.

Messages are written for the API's users: they name the field and never carry SQL,
tracebacks or secrets.
"""

from __future__ import annotations


class EntitleError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, str]:
        """What graphql-core puts in ``extensions`` where no mapper runs (subscription errors)."""
        extensions = {"code": self.code}
        if self.field is not None:
            extensions["field"] = self.field
        return extensions


class BadUserInput(EntitleError):
    code = "BAD_USER_INPUT"


class NotFound(EntitleError):
    code = "NOT_FOUND"


class Conflict(EntitleError):
    code = "CONFLICT"


class Forbidden(EntitleError):
    code = "FORBIDDEN"


class Unauthenticated(EntitleError):
    code = "UNAUTHENTICATED"


class Unavailable(EntitleError):
    """The answer cannot be given now but may be soon (retry): e.g. a consistency token not reached yet."""

    code = "SERVICE_UNAVAILABLE"


class RateLimited(EntitleError):
    """The caller sent more requests than its rate limit allows; ``retry_after_s`` is when one is free."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
