"""The ASGI application: ``create_app(settings)``; nothing connects at import time.

``/graphql`` goes straight to strawberry's ASGI app (behind a body-size guard); FastAPI serves
``/healthz`` and ``/readyz`` and owns the lifespan. Routing ``/graphql`` ahead of FastAPI skips its
middleware and dependency machinery on the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entitle.clock import now
from entitle.graphql.http import RETRY_AFTER_S, EntitleGraphQL, json_error_response
from entitle.graphql.ide import STATIC_PATH, graphiql_ide
from entitle.graphql.schema import build_schema
from entitle.logs import RequestLog, lean_log_records
from entitle.metrics import RequestMetrics, metrics_endpoint
from entitle.metrics import configure as configure_metrics
from entitle.services.access import Clock
from entitle.services.runtime import Runtime
from entitle.settings import Settings


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuses bodies over ``max_bytes`` with HTTP 413 (by Content-Length, or while streaming)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
                break
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await json_error_response(
            413, "BAD_USER_INPUT", f"request body larger than {self.max_bytes} bytes (ENTITLE_MAX_BODY_BYTES)"
        )(scope, receive, send)


class EntitleApp:
    """Dispatches ``/graphql`` to the GraphQL app and everything else to FastAPI, every HTTP request
    with its request id (and its log line in JSON logs: ``entitle.logs``)."""

    def __init__(
        self,
        api: FastAPI,
        graphql: ASGIApp,
        runtime: Runtime,
        view: EntitleGraphQL,
        *,
        log_requests: bool = False,
    ) -> None:
        self.api = api
        self.graphql = graphql
        self.runtime = runtime
        self.view = view
        """The GraphQL app itself (inside the body limit and the metrics)."""
        self._handle = RequestLog(self._route, log_requests=log_requests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._handle(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].rstrip("/") == "/graphql":
            await self.graphql(scope, receive, send)
        else:
            await self.api(scope, receive, send)


GC_THRESHOLDS = (2_000, 10, 1_000)


def tune_garbage_collector() -> None:
    """Keep full collections off the request path; keep young collections short.

    graphql-core leaves ~55 objects in reference cycles per request, so the collector must run. With
    the default thresholds (700, 10, 10) full collections over the caches paused a worker for 170-350 ms
    (wrk p99: 150 ms); with a young threshold of 50,000 each young pass took 13-20 ms (p99: 25 ms).
    Measured over 20,000 decisions, (2000, 10, 1000) gives 0.5 ms pauses at most, the least total GC
    time, and a full collection about once a minute under load. Objects alive after start-up
    (modules, schema, catalog) are frozen out of collection altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


FULL_COLLECTION_EVERY_S = 60.0


async def collect_old_garbage(every_s: float = FULL_COLLECTION_EVERY_S) -> None:
    """A full collection at least every ``every_s``, whatever the load (runs until cancelled).

    With ``GC_THRESHOLDS`` a full collection follows 1,000 collections of generation 1: under heavy
    load about once a minute, but at a few dozen requests per second once in many hours. Meanwhile
    the reference cycles of the requests that were in flight during a generation-1 collection pile
    up in generation 2 (``bench/soak.py --gc-log``: +8,000 objects in 30 minutes and no full
    collection; RSS +0.03 MiB/min, never levelling off). So when a period passes without a full
    collection, this runs one (as long a pause as the load would have caused once a minute anyway);
    under load it never has to.
    """
    done = _full_collections()
    while True:
        await asyncio.sleep(every_s)
        if _full_collections() == done:
            gc.collect()
        done = _full_collections()


def _full_collections() -> int:
    return int(gc.get_stats()[2]["collections"])


def create_app(settings: Settings | None = None, *, clock: Clock = now) -> EntitleApp:
    """The app; ``clock`` is the decisions' clock (a test fixes the time through it)."""
    settings = settings or Settings()
    runtime = Runtime(settings, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        tune_garbage_collector()
        collector = asyncio.create_task(collect_old_garbage(), name="entitle-full-gc")
        try:
            yield
        finally:
            collector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await collector
            await runtime.stop()

    api = FastAPI(title="Entitle", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz")
    async def readyz() -> JSONResponse:
        if await runtime.database_ready(settings.entitle_readyz_timeout_s):
            return JSONResponse({"status": "ready"})
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    if settings.entitle_introspection:  # GraphiQL's scripts and styles, served by us (no CDN)
        api.mount(STATIC_PATH.rstrip("/"), graphiql_ide())

    json_logs = settings.entitle_log_format == "json"
    if json_logs:
        lean_log_records()
    configure_metrics(settings.entitle_metrics, label_operations=json_logs)
    if settings.entitle_metrics:
        api.add_api_route("/metrics", metrics_endpoint(), methods=["GET"], include_in_schema=False)

    graphql = EntitleGraphQL(build_schema(settings), runtime)
    limited = BodyLimit(graphql, settings.entitle_max_body_bytes)
    return EntitleApp(
        api,
        RequestMetrics(limited) if settings.entitle_metrics else limited,
        runtime,
        graphql,
        log_requests=json_logs,
    )
