"""GraphQL over HTTP: the ``application/graphql-response+json`` media type and its status codes.

A client that accepts ``application/graphql-response+json`` (at least as much as ``application/json``)
gets that media type; a request that fails before execution (the document does not parse or
validate, or its variables do not coerce) then answers HTTP 400 with no ``data`` entry, as the
GraphQL-over-HTTP specification says. Errors during execution stay HTTP 200 with ``data``. A client
that accepts only ``application/json`` (or sends no Accept) keeps the legacy behaviour: HTTP 200,
``data: null``. Batches (a JSON array body) are outside the specification and stay HTTP 200.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Scope

from graphql import GraphQLError

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
_CONTENT_TYPE = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
_REQUEST_ERROR = "entitle.request_error"


def _quality(accept: str, media_type: str) -> float | None:
    """The q of the first media range naming ``media_type`` exactly (None when not named); lower case."""
    for part in accept.split(","):
        pieces = part.split(";")
        if pieces[0].strip() != media_type:
            continue
        for parameter in pieces[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value.strip())
                except ValueError:
                    return 0.0
        return 1.0
    return None


def accepts_graphql_response(accept: str) -> bool:
    """Whether to answer ``application/graphql-response+json``: named with q > 0 and not below JSON's q."""
    if "+" not in accept:  # the common case (application/json, */*, none): one substring test
        return False
    accept = accept.lower()
    preferred = _quality(accept, GRAPHQL_RESPONSE_JSON)
    if not preferred:
        return False
    legacy = _quality(accept, "application/json")
    return legacy is None or preferred >= legacy


def is_request_error(data: object, errors: list[GraphQLError] | None) -> bool:
    """Nothing executed: no data, and every error is about the request (no error has a path)."""
    return data is None and bool(errors) and all(error.path is None for error in errors or ())


def mark_request_error(scope: Scope, body: dict[str, Any]) -> None:
    """For a graphql-response+json client: drop ``data`` and have ``negotiate`` answer 400."""
    body.pop("data", None)
    scope[_REQUEST_ERROR] = True


def negotiate(scope: Scope, accept: str, response: Response) -> None:
    """Give a JSON answer the negotiated media type and, for request errors, HTTP 400 without data."""
    if response.media_type != "application/json" or not accepts_graphql_response(accept):
        return
    response.headers["content-type"] = _CONTENT_TYPE
    if scope.get(_REQUEST_ERROR) and response.status_code == 200 and response.body[:1] != b"[":
        response.status_code = 400
    elif response.status_code >= 400:
        # Refused before execution (401, 400 for an unreadable body...): no data entry either.
        body = orjson.loads(response.body)
        if isinstance(body, dict) and body.get("data", 0) is None:
            del body["data"]
            response.body = orjson.dumps(body)
            response.headers["content-length"] = str(len(response.body))
