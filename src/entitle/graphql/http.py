"""The HTTP face of the GraphQL API: strawberry's ASGI app, authenticated, with JSON errors.

Every answer names the worker process that gave it (``x-entitle-worker``: its pid).

Status codes: a request without a valid token gets HTTP 401 with a GraphQL-shaped body
(``extensions.code = UNAUTHENTICATED``); requests that cannot be read as GraphQL get 400
(413 when the body is too large); everything that executes answers 200, errors as data, except
when the database is unreachable or timed out: any ``SERVICE_UNAVAILABLE`` error makes the answer
HTTP 503 with ``Retry-After`` (contract §7: safe to retry).
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from entitle.domain.errors import RateLimited, Unauthenticated
from entitle.graphql.compiled import CompiledQueries
from entitle.graphql.core.context import Context
from entitle.graphql.errors import (
    SERVICE_UNAVAILABLE,
    UNAVAILABLE_MESSAGE,
    error_body,
    format_error,
    unavailable_reasons,
)
from entitle.graphql.ide import graphiql_ide
from entitle.graphql.over_http import (
    accepts_graphql_response,
    is_request_error,
    mark_request_error,
    negotiate,
)
from entitle.graphql.persisted import PersistedQueries, PersistedQueryRefused, load_trusted_documents
from entitle.logs import note_principal
from entitle.metrics import note_errors, note_operation, record_rate_limited
from entitle.services.outages import unavailable_reason
from entitle.services.rate_limits import RateLimiter
from entitle.services.runtime import Runtime
from entitle.services.writes import current_scope, open_scope

RETRY_AFTER_S = 2
"""``Retry-After`` of a 503: about one revision poll and a reconnect."""


def json_error_response(status: int, code: str, message: str) -> Response:
    return Response(
        orjson.dumps(error_body(code, message)), status_code=status, media_type="application/json"
    )


def _mark_unavailable(response: Response) -> Response:
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _is_unavailable(body: GraphQLHTTPResponse | list[GraphQLHTTPResponse]) -> bool:
    items: list[Any] = body if isinstance(body, list) else [body]
    return any(
        (error.get("extensions") or {}).get("code") == SERVICE_UNAVAILABLE
        for item in items
        for error in item.get("errors") or ()
    )


def _code_for_http_refusal(reason: str) -> str:
    """The code of a request strawberry refused before execution.

    A body that is not JSON (or has no query) did not parse; a missing or unknown operation, or
    variables that are not an object, did not validate; any other unreadable request (wrong shape,
    content type or method, too many operations) is bad input. Never a code outside the contract.
    """
    lowered = reason.lower()
    if "parse request body as json" in lowered or "no graphql query" in lowered or "multipart" in lowered:
        return "GRAPHQL_PARSE_FAILED"
    if "unknown operation" in lowered or "operation type" in lowered or "`variables`" in lowered:
        return "GRAPHQL_VALIDATION_FAILED"
    return "BAD_USER_INPUT"


class EntitleGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: BaseSchema, runtime: Runtime) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if runtime.settings.entitle_introspection else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.runtime = runtime
        limit = runtime.settings.entitle_rate_limit
        self._limiter = RateLimiter(limit, runtime.settings.entitle_rate_limit_burst) if limit else None
        trusted = runtime.settings.entitle_trusted_documents
        self._persisted = PersistedQueries(
            load_trusted_documents(trusted) if trusted else None,
            trusted_only=runtime.settings.entitle_trusted_only,
        )
        self._worker = str(os.getpid())
        self._worker_header = (b"x-entitle-worker", self._worker.encode())
        documents = getattr(schema, "documents", None)
        self._compiled = CompiledQueries(schema, documents) if documents is not None else None  # type: ignore[arg-type]
        self.compiled_queries = runtime.settings.entitle_compiled_queries
        """Answer compiled documents (graphql/compiled.py) without the general path (a switch for tests
        and benchmarks; ``ENTITLE_COMPILED_QUERIES=false`` turns it off)."""
        self.compiled_answers = 0
        """Requests answered by a compiled plan (tests look)."""
        self._strawberry: Any = schema
        batching = schema.config.batching_config
        self._max_operations = int(batching.get("max_operations", 1)) if batching else 1
        self._shape = (
            "the request body must be a JSON object {query, variables?, operationName?, extensions?} "
            f"or an array of at most {self._max_operations} such objects"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # subscriptions: graphql-transport-ws only
            await super().__call__(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope=scope, receive=receive)
        try:
            compiled = await self._compiled_answer(request) if scope["method"] == "POST" else None
            response = compiled if compiled is not None else await self.run(request)
        except Unauthenticated as exc:
            response = json_error_response(401, exc.code, exc.message)
            response.headers["WWW-Authenticate"] = "Bearer"
        except PersistedQueryRefused as exc:
            response = exc.response()
        except RateLimited as exc:
            record_rate_limited()
            response = json_error_response(429, exc.code, exc.message)
            response.headers["Retry-After"] = str(exc.retry_after_s)
        except HTTPException as exc:
            if exc.status_code == 404 and not self.graphql_ide:
                response = json_error_response(404, "NOT_FOUND", "GraphiQL is disabled on this server")
            else:
                reason = exc.reason
                if reason.lower().startswith("too many operations"):
                    reason = (
                        f"too many operations: a batch (JSON array body) holds at most {self._max_operations}"
                    )
                response = json_error_response(exc.status_code, _code_for_http_refusal(reason), reason)
        except Exception as exc:  # before execution: authenticating an API key reads the database
            outage = unavailable_reason(exc)
            if outage is None:
                raise
            self.runtime.health.failed(outage)
            response = _mark_unavailable(json_error_response(503, SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE))
        negotiate(scope, request.headers.get("accept", ""), response)
        await response(scope, receive, send)

    async def _compiled_answer(self, request: Request) -> Response | None:
        """The answer of a compiled document (graphql/compiled.py), or None: take the general path.

        Does what the general path does for such a request, in its order: read the JSON body, label
        the request for metrics, authenticate (``get_context``), execute, encode, negotiate."""
        if self._compiled is None or not self.compiled_queries:
            return None
        headers = request.headers
        if not headers.get("content-type", "").startswith("application/json"):
            return None
        accept = headers.get("accept", "")
        if "multipart" in accept or "event-stream" in accept:
            return None
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if type(data) is not dict:
            return None
        query = data.get("query")
        if type(query) is not str or data.get("extensions") is not None:
            return None
        plan = self._compiled.plan(query)
        if plan is None or not self._persisted.allows_text(query):
            return None
        operation_name = data.get("operationName")
        if operation_name is not None and operation_name != plan.operation_name:
            return None
        variables = data.get("variables")
        if variables is None:
            variables = {}
        elif type(variables) is not dict:
            return None
        if (
            plan.inputs.check(variables) is not None
        ):  # the input boundary refuses: its error is the general path's
            return None
        note_operation(request.scope, self.schema._schema, query)  # type: ignore[attr-defined]
        try:
            principal = await self.runtime.auth.authenticate(headers.get("authorization"))
            open_scope(principal.actor)
            note_principal(request.scope, principal.kind)
            if self._limiter is not None:
                self._limiter.take(principal)  # RateLimited: answered 429 by __call__, as from get_context
            body = await plan.answer(self._strawberry, Context(self.runtime, principal), variables)
        except RateLimited:
            raise
        except Exception:  # Abandon, or an error the general path will give in its own words
            return None
        response = Response(orjson.dumps(body), status_code=200, media_type="application/json")
        response.headers.raw.append(self._worker_header)
        self.compiled_answers += 1
        return response

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request's operation(s), persisted queries resolved (graphql/persisted.py)."""
        return self._persisted.resolve(await self._parse_body(request))

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Not for a GET naming a persisted query by hash only (no ``query`` parameter)."""
        return super().should_render_graphql_ide(request) and request.query_params.get("extensions") is None

    async def _parse_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Strawberry's parsing, with bodies of the wrong JSON shape refused as 400 instead of crashing.

        The common case (a POSTed JSON object, no streaming) is read directly with orjson, skipping
        strawberry's content-type parsing through ``email.message`` (measured: ~5% of a decision).
        """
        fast = await self._plain_json_body(request)
        if fast is not None:
            return fast
        try:
            parsed = await super().parse_http_body(request)
        except (AttributeError, TypeError):  # a JSON body (or batch item) that is not an object
            raise HTTPException(400, self._shape) from None
        if parsed == []:
            raise HTTPException(400, self._shape)
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if (
                not isinstance(item.query, str | None)
                or not isinstance(item.variables, dict | None)
                or not isinstance(item.operation_name, str | None)
                or not isinstance(item.extensions, dict | None)
            ):
                raise HTTPException(400, self._shape)
        return parsed

    async def _plain_json_body(self, request: Any) -> GraphQLRequestData | None:
        if request.method != "POST" or not (request.content_type or "").startswith("application/json"):
            return None
        accept = request.headers.get("accept", "")
        if "multipart" in accept or "event-stream" in accept:
            return None
        try:
            data = orjson.loads(await request.get_body())
        except orjson.JSONDecodeError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(data, dict):
            return None  # a batch or a body of the wrong shape: the general path decides
        query, variables = data.get("query"), data.get("variables")
        operation_name, extensions = data.get("operationName"), data.get("extensions")
        if query is None or not isinstance(query, str):
            return None
        if not isinstance(variables, dict | None) or not isinstance(extensions, dict | None):
            return None
        if not isinstance(operation_name, str | None):
            return None
        return GraphQLRequestData(
            query=query, variables=variables, operation_name=operation_name, extensions=extensions
        )

    async def execute_operation(  # type: ignore[override]
        self, request: Any, request_adapter: Any, request_data: Any, **rest: Any
    ) -> Any:
        """Strawberry's, with the request labelled for metrics by its root field(s) first."""
        query = request_data.query if isinstance(request_data, GraphQLRequestData) else None
        note_operation(request.scope, self.schema._schema, query)  # type: ignore[attr-defined]
        return await super().execute_operation(
            request=request, request_adapter=request_adapter, request_data=request_data, **rest
        )

    async def get_context(self, request: Any, response: Any) -> Context:
        if isinstance(request, WebSocket):
            return Context(self.runtime, None)  # authenticated by on_ws_connect
        response.headers["x-entitle-worker"] = self._worker
        if self._is_ide_page(request):
            return Context(self.runtime, None)
        principal = await self.runtime.auth.authenticate(request.headers.get("authorization"))
        if principal is not None:
            open_scope(principal.actor)
            note_principal(request.scope, principal.kind)
            if self._limiter is not None:
                self._limiter.take(principal)
        return Context(self.runtime, principal)

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL with its scripts and styles served by this service (no CDN): see graphql/ide.py."""
        return graphiql_ide().page(request.scope.get("root_path", ""))

    @staticmethod
    def _is_ide_page(request: Request) -> bool:
        accept = request.headers.get("accept", "")
        return (
            request.method == "GET"
            and request.query_params.get("query") is None
            and request.query_params.get("extensions") is None
            and ("text/html" in accept or "*/*" in accept)
        )

    async def on_ws_connect(self, context: Context) -> None:
        """Authenticate a WebSocket from its ``connection_init`` payload (``{"Authorization": "Bearer …"}``).

        A bad or missing token is not refused here: the connection stays without a principal and every
        subscription on it answers an ``UNAUTHENTICATED`` error (contract §9), never data.
        """
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        header = params.get("Authorization", params.get("authorization"))
        try:
            context.principal = await self.runtime.auth.authenticate(
                header if isinstance(header, str) else None
            )
        except Unauthenticated:
            context.principal = None
        if context.principal is not None:
            open_scope(context.principal.actor)

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [format_error(error) for error in result.errors]
            for reason in unavailable_reasons(result.errors)[:1]:
                self.runtime.health.failed(reason)
            note_errors(request.scope)
        if result.extensions:
            body["extensions"] = result.extensions
        written = current_scope().revision
        if written is not None:  # a mutation wrote: its consistency token (contract §9)
            body.setdefault("extensions", {})["revision"] = str(written)
        if is_request_error(result.data, result.errors) and accepts_graphql_response(
            request.headers.get("accept", "")
        ):
            mark_request_error(request.scope, body)
        return body  # type: ignore[return-value]

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        return _mark_unavailable(response) if _is_unavailable(response_data) else response

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
