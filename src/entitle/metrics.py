"""Prometheus metrics (contract §12): ``GET /metrics``, aggregated over every worker of ``entitle serve``.

``entitle serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a temp dir it owns (removed on exit; an
operator's own value is kept and never removed) before any worker imports prometheus_client, so each
worker writes its samples to memory-mapped files there and ``/metrics`` (whichever worker answers)
sums them. Without that variable (tests, ``create_app`` embedded) the samples are this process's.
``ENTITLE_METRICS=false``: no ``/metrics`` route and nothing recorded.

Hot path: label children are bound once and kept in dicts; a request costs one dict lookup, one
counter increment and one histogram observation; a decision and a cache lookup one increment each.
The ``operation`` label is the request's root field names (checked against the schema, so clients
cannot create label values), computed once per distinct query text.

Bounded whatever clients send: the labels memoised per query text stop at ``_MAX_LABELLED_QUERIES``
texts and ``_MAX_LABELLED_CHARS`` characters (a text longer than ``_LARGEST_LABELLED_QUERY`` is labelled
on every request, never kept), and past ``_MAX_OPERATION_LABELS`` distinct labels a new combination of
root fields is labelled ``other`` (a client could otherwise create one label, with its counters and
histogram, per combination of up to three root fields: tens of thousands).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import graphql
from entitle.metrics_dir import MULTIPROC_ENV
from graphql import GraphQLSchema

REQUESTS = Counter(
    "entitle_requests_total", "GraphQL HTTP requests by root field(s) and outcome", ["operation", "outcome"]
)
REQUEST_DURATION = Histogram(
    "entitle_request_duration_seconds",
    "Time from request to response, by root field(s)",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DECISIONS = Counter("entitle_decisions_total", "isEntitledTo decisions by justification", ["justification"])
CACHE_REQUESTS = Counter("entitle_cache_requests_total", "Per-process cache lookups", ["cache", "result"])
CHANGE_FEED_LAG = Gauge(
    "entitle_change_feed_lag_seconds",
    "Now minus the commit time of the last change this process applied; 0 when caught up",
    multiprocess_mode="livemax",
)
WEBHOOK_DELIVERIES = Counter(
    "entitle_webhook_deliveries_total",
    "Webhook delivery attempts by what became of the delivery: SUCCEEDED, PENDING (retried later), FAILED",
    ["status"],
)
DECISION_LOG_DROPPED = Counter(
    "entitle_decision_log_dropped_total", "Decisions not logged because the in-memory queue was full"
)
RATE_LIMITED = Counter("entitle_rate_limited_total", "Requests refused with HTTP 429 (ENTITLE_RATE_LIMIT)")

enabled = True
labelling = True
"""Whether requests are labelled with their operation (for metrics, or for JSON request logs)."""

_OPERATION = "entitle.operation"
_ERRORS = "entitle.errors"
_MAX_LABELLED_QUERIES = 10_000
_MAX_LABELLED_CHARS = 1_000_000
_LARGEST_LABELLED_QUERY = 64_000
_MAX_ROOT_FIELDS = 3
_MAX_OPERATION_LABELS = 1_000
OTHER = "other"
"""The label of a combination of root fields first seen once ``_MAX_OPERATION_LABELS`` are in use."""

_decisions: dict[str | None, Any] = {}
_requests: dict[tuple[str, str], tuple[Any, Any]] = {}
_cache_hits: dict[str, Any] = {}
_cache_misses: dict[str, Any] = {}
_operations: dict[str, str] = {}
_operation_chars = 0
_labels: set[str] = {"none", "batch", "invalid", "multiple", OTHER}
"""Every operation label handed out so far (bounded by ``_MAX_OPERATION_LABELS``)."""
_deliveries: dict[str, Any] = {}


def configure(on: bool, *, label_operations: bool = False) -> None:
    global enabled, labelling
    enabled = on
    labelling = on or label_operations


def record_decision(is_entitled: bool, justification: str | None) -> None:
    if not enabled:
        return
    key = None if is_entitled else justification
    child = _decisions.get(key)
    if child is None:
        child = _decisions[key] = DECISIONS.labels("ENTITLED" if key is None else str(key))
    child.inc()


def record_cache(cache: str, hit: bool) -> None:
    if not enabled:
        return
    children = _cache_hits if hit else _cache_misses
    child = children.get(cache)
    if child is None:
        child = children[cache] = CACHE_REQUESTS.labels(cache, "hit" if hit else "miss")
    child.inc()


def record_feed_lag(seconds: float) -> None:
    if enabled:
        CHANGE_FEED_LAG.set(max(0.0, seconds))


def record_webhook_delivery(status: str, count: int = 1) -> None:
    if not enabled or count <= 0:
        return
    child = _deliveries.get(status)
    if child is None:
        child = _deliveries[status] = WEBHOOK_DELIVERIES.labels(status)
    child.inc(count)


def record_decision_log_drop() -> None:
    if enabled:
        DECISION_LOG_DROPPED.inc()


def record_rate_limited() -> None:
    if enabled:
        RATE_LIMITED.inc()


def _label(schema: GraphQLSchema, query: str) -> str:
    try:
        document = graphql.parse(query, max_tokens=20_000)
    except graphql.GraphQLError:
        return "invalid"
    names: set[str] = set()
    for definition in document.definitions:
        if not isinstance(definition, graphql.OperationDefinitionNode):
            continue
        root = schema.get_root_type(definition.operation)
        for selection in definition.selection_set.selections:
            if not isinstance(selection, graphql.FieldNode):
                names.add("fragment")
                continue
            name = selection.name.value
            known = name.startswith("__") or (root is not None and name in root.fields)
            names.add(name if known else "unknown")
    if not names:
        return "invalid"
    if len(names) > _MAX_ROOT_FIELDS:
        return "multiple"
    label = "+".join(sorted(names))
    if label not in _labels:
        if len(_labels) >= _MAX_OPERATION_LABELS:
            return OTHER
        _labels.add(label)
    return label


def note_operation(scope: Scope, schema: GraphQLSchema, query: str | None) -> None:
    """Label the request with its root field(s); ``query`` None means a batch."""
    if not labelling:
        return
    if query is None:
        scope[_OPERATION] = "batch"
        return
    global _operation_chars
    label = _operations.get(query)
    if label is None:
        label = _label(schema, query)
        if (
            len(_operations) < _MAX_LABELLED_QUERIES
            and len(query) <= _LARGEST_LABELLED_QUERY
            and _operation_chars + len(query) <= _MAX_LABELLED_CHARS
        ):
            _operations[query] = label
            _operation_chars += len(query)
    scope[_OPERATION] = label


def operation_of(scope: Scope) -> str | None:
    """The request's label set by ``note_operation`` (None when it was not a GraphQL request)."""
    label: str | None = scope.get(_OPERATION)
    return label


def note_errors(scope: Scope) -> None:
    scope[_ERRORS] = True


def _outcome(status: int, errors: bool) -> str:
    if status < 300:
        return "error" if errors else "ok"
    if status == 400 and errors:
        return "error"
    if status == 401:
        return "unauthenticated"
    if status == 429:
        return "rate_limited"
    if status < 500:
        return "refused"
    return "failed"


class RequestMetrics:
    """Counts and times every request to the GraphQL app (wraps it; ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not enabled or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            key = (scope.get(_OPERATION, "none"), _outcome(status, _ERRORS in scope))
            children = _requests.get(key)
            if children is None:
                children = _requests[key] = (REQUESTS.labels(*key), REQUEST_DURATION.labels(key[0]))
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


def metrics_endpoint() -> Callable[[], Response]:
    def metrics() -> Response:
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics
