"""FastAPI enforcement: ``require_feature(feature_key, usage=None, client=..., subject=...)``.

    guard = require_feature("sso", client=client, subject=lambda r: Subject(r.headers["x-tenant"]))
    @app.get("/sso", dependencies=[Depends(guard)])

A refused request gets HTTP 403 with
``{"error": "access_denied", "justification", "message", "upgradeOptions"}``. Call
``add_access_denied_handler(app)`` once so the body is exactly that; without it FastAPI wraps it in
``{"detail": ...}``. When the service cannot be reached and no ``fallback`` allows the feature, the answer is
503 (fail closed).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from entitle_client._client import AsyncEntitleClient, EntitleClient
from entitle_client._http import body_for, denial_status
from entitle_client.types import Decision, Subject

NO_SUBJECT = Decision(is_entitled=False, justification="UNKNOWN_SUBJECT", message="Sign in to use this.")
"""The refusal of a request whose ``subject`` callable named neither a tenant nor a user (no server call)."""

SubjectGetter = Callable[[Request], Subject | Awaitable[Subject]]


class AccessDenied(HTTPException):
    def __init__(self, decision: Decision) -> None:
        super().__init__(status_code=denial_status(decision), detail=body_for(decision))
        self.decision = decision


async def _access_denied(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AccessDenied)
    return JSONResponse(exc.detail, status_code=exc.status_code)


def add_access_denied_handler(app: FastAPI) -> None:
    """Answer ``AccessDenied`` with the §13 body at the top level."""
    app.add_exception_handler(AccessDenied, _access_denied)


def require_feature(
    feature_key: str,
    usage: int | None = None,
    *,
    client: AsyncEntitleClient | EntitleClient,
    subject: SubjectGetter,
    consume: bool = False,
) -> Callable[[Request], Awaitable[Decision]]:
    """A dependency allowing the request when the subject is entitled to ``feature_key`` (with room for
    ``usage`` units when given; ``consume=True`` also reports them with ``reportUsage``). It returns the
    ``Decision``."""

    async def dependency(request: Request) -> Decision:
        who = subject(request)
        if inspect.isawaitable(who):
            who = await who
        assert isinstance(who, Subject)
        if who.tenant_key is None and who.user_key is None:
            raise AccessDenied(NO_SUBJECT)
        keys: dict[str, Any] = {"tenant_key": who.tenant_key, "user_key": who.user_key}
        if consume and usage is not None:
            call: Any = client.report_usage(feature_key, usage, **keys)
        else:
            call = client.is_entitled(feature_key, usage=usage, **keys)
        decision = await call if inspect.isawaitable(call) else call
        assert isinstance(decision, Decision)
        if not decision.is_entitled:
            raise AccessDenied(decision)
        return decision

    return dependency
