"""Logs (contract §12): ``ENTITLE_LOG_FORMAT=text|json`` and the request id.

Every HTTP request gets an id: the client's ``X-Request-ID`` when it is 1-128 characters of
``A-Z a-z 0-9 . _ : -``, else a new random one; it is returned in the ``X-Request-ID`` response header
and attached to every log record written while the request runs (``request_id``).

``json``: every log record — the one line per request (``event: "request"``: ``request_id``,
``method``, ``path``, ``operation``, ``status``, ``duration_ms``, ``principal``) and every warning or error
of the service, uvicorn included — is one JSON object on one line of stderr (python-json-logger),
with ``ts``, ``level``, ``logger``, ``event``. A traceback of an unexpected error is the ``exc_info``
string of its record, so that record is one line too. Nothing here ever reads a request's body,
query string, variables or ``Authorization`` header: ``path`` is the path without the query string,
``operation`` the request's root field names (``entitle.metrics``), ``principal`` only the kind.
``text`` (the default): uvicorn's usual logging, no request lines.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entitle.metrics import operation_of

REQUEST_ID: ContextVar[str | None] = ContextVar("entitle_request_id", default=None)
PRINCIPAL_KIND = "entitle.principal"
"""Where ``note_principal`` leaves the caller's kind in the ASGI scope (for the request line)."""

_SENT_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
_requests = logging.getLogger("entitle.requests")


def note_principal(scope: Scope, kind: str) -> None:
    scope[PRINCIPAL_KIND] = kind


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` when it is safe to repeat, else a new one (32 hex digits)."""
    for name, value in headers:
        if name == b"x-request-id":
            if _SENT_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (of the request being served, if any) to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = REQUEST_ID.get()
            if request_id is not None:
                record.request_id = request_id
        return True


def json_formatter() -> logging.Formatter:
    return OrjsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger", "message": "event"},
        timestamp="ts",
    )


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """The ``log_config`` for uvicorn (None: uvicorn's default text logging)."""
    if log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            # The request lines replace uvicorn's access log (which would print query strings).
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def lean_log_records() -> None:
    """Skip what no JSON line shows: the caller's file and line, thread and process names and ids
    (logging's documented optimisations; measured: a request line costs 10 µs instead of 12)."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined,unused-ignore]


def configure_json_logging() -> None:
    """JSON logging for this process now (the CLI's own lines, before uvicorn starts)."""
    import logging.config

    config = uvicorn_log_config("json")
    assert config is not None
    logging.config.dictConfig(config)
    lean_log_records()


class RequestLog:
    """Gives every HTTP request its id (``X-Request-ID``) and, with ``log_requests``, logs one line for it."""

    def __init__(self, app: ASGIApp, *, log_requests: bool) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        header = (b"x-request-id", request_id.encode("ascii"))
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log_requests:
                _requests.log(
                    logging.ERROR if status >= 500 else logging.INFO,
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "operation": operation_of(scope),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                        "principal": scope.get(PRINCIPAL_KIND),
                    },
                )
            REQUEST_ID.reset(token)
