"""Who is writing, and what the request wrote: set per request, read by ``Runtime.write``.

The GraphQL layer opens a ``WriteScope`` for each request with the caller's actor name (the management
key's name, or ``user:<key>``); every write transaction of that request appends its changes under that
actor and leaves its revision here, so the response can carry it (``extensions.revision``). Work
outside a request (start-up, background tasks) writes as ``system``.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from entitle.domain.changes import Revision


@dataclass
class WriteScope:
    actor: str
    revision: Revision | None = None


SYSTEM = WriteScope("system")

_CURRENT: ContextVar[WriteScope] = ContextVar("entitle_write_scope", default=SYSTEM)


def open_scope(actor: str) -> WriteScope:
    """Start the current request's scope (the request's task and what it awaits share it)."""
    scope = WriteScope(actor)
    _CURRENT.set(scope)
    return scope


def current_scope() -> WriteScope:
    return _CURRENT.get()
