"""Is the database reachable? What counts as "unreachable or timed out", and one log line per outage.

``unavailable_reason(error)`` tells a database outage (refused or lost connection, a connect,
statement or pool timeout, a server shutting down or out of connections, a locked SQLite file)
from every other error: those become ``SERVICE_UNAVAILABLE`` (HTTP 503, safe to retry), never
``INTERNAL_SERVER_ERROR``, and are never logged with a traceback.

``DatabaseHealth`` is the process's view of the database: requests, ``/readyz`` and the revision
watcher report failures to it, successful round trips (the watcher's poll, ``/readyz``) report
recovery. It logs "database unavailable: <reason>" when the state goes down and "database available
again" when it comes back. A flapping database logs at most one outage per ``min_log_interval_s``
(10 s): an outage that starts sooner after the last logged one is logged when it is still going on
once that interval has passed, and the next logged line counts the brief outages that were not.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable

import asyncpg
from sqlalchemy import exc as sa_exc

log = logging.getLogger("entitle.database")

_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o")
"""sqlite3 raises OperationalError for syntax errors too: only these messages mean "unavailable"."""

_POSTGRES_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,  # class 08: connection exception (incl. closed mid-operation)
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, starting up, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, out of memory
    asyncpg.InterfaceError,  # "connection is closed", a connection left unusable by a timeout
)


def unavailable_reason(error: BaseException | None) -> str | None:
    """A short reason (no SQL, host or secret) when ``error`` or its cause is a database outage, else None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        reason = _reason(error)
        if reason is not None:
            return reason
        error = error.__cause__ or error.__context__
    return None


def _reason(error: BaseException) -> str | None:
    if isinstance(error, sa_exc.TimeoutError):
        return "no pooled connection free in time (ENTITLE_DB_POOL_TIMEOUT_S)"
    if isinstance(error, TimeoutError):  # asyncio's too: the connect or statement timeout
        return "no answer in time (ENTITLE_DB_CONNECT_TIMEOUT_S / ENTITLE_DB_STATEMENT_TIMEOUT_S)"
    if isinstance(error, asyncpg.exceptions.QueryCanceledError):
        return "statement timed out (ENTITLE_DB_STATEMENT_TIMEOUT_S)"
    if isinstance(error, _POSTGRES_UNAVAILABLE):
        return _first_line(str(error)) or type(error).__name__
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        return message if any(text in message for text in _SQLITE_UNAVAILABLE) else None
    if isinstance(error, OSError):  # refused, unreachable, name not resolved (socket.gaierror)
        if error.errno is not None and error.errno in errno.errorcode:
            return os.strerror(error.errno).lower()
        return "connection failed"
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        # SQLite's own error decides; other drivers use these for lost connections.
        return _reason(error.orig) if isinstance(error.orig, sqlite3.Error) else _first_line(str(error.orig))
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return "connection lost"
    return None


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0][:200]


class DatabaseHealth:
    def __init__(
        self, *, min_log_interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.available = True
        self._interval = min_log_interval_s
        self._clock = clock
        self._down_since = 0.0
        self._reported = False
        """Whether the current outage was logged (so its end is logged too)."""
        self._last_report = -math.inf
        self._unreported_outages = 0

    def failed(self, reason: str) -> None:
        now = self._clock()
        if self.available:
            self.available = False
            self._down_since = now
            self._reported = False
        if self._reported or now - self._last_report < self._interval:
            return
        missed = self._unreported_outages
        suffix = f" (and {missed} brief outage(s) since the last report)" if missed else ""
        log.warning("database unavailable: %s%s", reason, suffix)
        self._reported = True
        self._last_report = now
        self._unreported_outages = 0

    def succeeded(self) -> None:
        if self.available:
            return
        self.available = True
        if self._reported:
            log.warning("database available again (after %.1f s)", self._clock() - self._down_since)
        else:
            self._unreported_outages += 1
