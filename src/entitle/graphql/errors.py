"""One error mapper: every GraphQL error leaves with ``extensions.code`` (contract §7).

Domain errors keep their message and code; parse, validation and complexity failures are
classified; a database that is unreachable or timed out is ``SERVICE_UNAVAILABLE`` (not logged
here: ``DatabaseHealth`` logs the outage once); anything else is logged and
masked as ``INTERNAL_SERVER_ERROR`` with no detail.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from entitle.domain.errors import EntitleError
from entitle.domain.text import SHOWN_CHARS
from entitle.services.outages import unavailable_reason
from graphql import GraphQLError, GraphQLSyntaxError

log = logging.getLogger("entitle.errors")

_TOO_COMPLEX = re.compile(
    r"exceeds maximum operation depth|aliases found\. Allowed|contains more than \d+ (tokens|code points)"
)

_BAD_VARIABLE = re.compile(r"Variable '\$\w+'")

_QUOTED_CHAR = r"(?:(?!\1)[^\\]|\\.)"
_LONG_QUOTE = re.compile(rf"""(['"])({_QUOTED_CHAR}{{{SHOWN_CHARS}}}){_QUOTED_CHAR}+\1""")


def trim_quotes(message: str) -> str:
    """Every quoted run longer than 64 characters cut to its first 64 and '…'.

    graphql-core quotes a variable's value in its coercion errors (up to 240 characters); our
    own messages quote input through ``entitle.domain.text.shown``. This is the last guard.
    """
    return _LONG_QUOTE.sub(lambda m: f"{m[1]}{m[2]}…{m[1]}", message)


SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = "the database is unavailable or timed out; retry shortly"


def classify(error: GraphQLError) -> tuple[str, str, str | None]:
    """(code, message, field) for one error."""
    original = error.original_error
    if isinstance(original, EntitleError):
        return original.code, original.message, original.field
    if original is not None and unavailable_reason(original) is not None:
        return SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE, None
    if error.path is None and _BAD_VARIABLE.match(error.message):
        # Variable coercion fails before execution, often wrapping the scalar's ValueError: the
        # request does not validate, whatever the original error (contract §7: bad variables).
        return "GRAPHQL_VALIDATION_FAILED", error.message, None
    if error.path is None and original is not None:
        # Raised while coercing the document's literals or variables (e.g. the DateTime scalar's
        # ValueError), before anything executed: the request does not validate.
        return "GRAPHQL_VALIDATION_FAILED", error.message, None
    if original is not None:
        log.error("unhandled error in %s", error.path, exc_info=original)
        return "INTERNAL_SERVER_ERROR", "Internal server error", None
    if error.extensions and isinstance(error.extensions.get("code"), str):
        return error.extensions["code"], error.message, None
    if _TOO_COMPLEX.search(error.message):
        return "QUERY_TOO_COMPLEX", error.message, None
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED", error.message, None
    if error.path is None:
        return "GRAPHQL_VALIDATION_FAILED", error.message, None
    return "INTERNAL_SERVER_ERROR", "Internal server error", None


def format_error(error: GraphQLError) -> dict[str, Any]:
    code, message, field = classify(error)
    formatted: dict[str, Any] = {"message": trim_quotes(message)}
    if error.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path is not None:
        formatted["path"] = error.path
    extensions: dict[str, Any] = {"code": code}
    if field is not None:
        extensions["field"] = field
    formatted["extensions"] = extensions
    return formatted


def unavailable_reasons(errors: list[GraphQLError]) -> list[str]:
    """The outage reasons behind ``errors`` (those that are SERVICE_UNAVAILABLE)."""
    reasons = (unavailable_reason(error.original_error) for error in errors if error.original_error)
    return [reason for reason in reasons if reason is not None]


def error_body(code: str, message: str) -> dict[str, Any]:
    """A GraphQL-shaped body for errors raised before execution (HTTP-level refusals)."""
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
