"""``RouteGuard``: ASGI middleware deciding each HTTP request by ``isEntitledTo(route: {method, path})``.

    app = RouteGuard(app, client=AsyncEntitleClient(url, token), subject=lambda scope: Subject(...))

A refused request gets HTTP 403 with the §13 body; when the service cannot be reached, 503 (fail closed).
``exclude`` lists path prefixes not checked (health checks, docs). Non-HTTP scopes pass through.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from entitle_client._client import AsyncEntitleClient
from entitle_client._http import body_for, denial_status
from entitle_client.types import Decision, Subject

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
NO_SUBJECT = Decision(is_entitled=False, justification="UNKNOWN_SUBJECT", message="Sign in to use this.")

SubjectGetter = Callable[[Scope], Subject | Awaitable[Subject | None] | None]


def header(scope: Scope, name: str) -> str | None:
    """A request header of an ASGI scope (case-insensitive), for ``subject`` callables."""
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers") or ():
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


class RouteGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        client: AsyncEntitleClient,
        subject: SubjectGetter,
        exclude: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.client = client
        self.subject = subject
        self.exclude = tuple(exclude)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or (self.exclude and path.startswith(self.exclude)):
            await self.app(scope, receive, send)
            return
        who = self.subject(scope)
        if inspect.isawaitable(who):
            who = await who
        if not isinstance(who, Subject) or (who.tenant_key is None and who.user_key is None):
            decision = NO_SUBJECT
        else:
            decision = await self.client.is_entitled(
                route=(str(scope["method"]), path), tenant_key=who.tenant_key, user_key=who.user_key
            )
        if decision.is_entitled:
            await self.app(scope, receive, send)
            return
        body = json.dumps(body_for(decision)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": denial_status(decision), "headers": headers})
        await send({"type": "http.response.body", "body": body})
