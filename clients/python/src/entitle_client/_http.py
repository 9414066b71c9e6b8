"""The HTTP answers the guards give (shared by the FastAPI dependency and the ASGI middleware)."""

from __future__ import annotations

from typing import Any

from entitle_client.types import Decision


def denial_body(decision: Decision) -> dict[str, Any]:
    """The 403 body of contract §13."""
    return {
        "error": "access_denied",
        "justification": decision.justification,
        "message": decision.message,
        "upgradeOptions": list(decision.upgrade_options),
    }


def denial_status(decision: Decision) -> int:
    """403 for a refusal; 503 when the service could not be reached and no fallback allowed it
    (fail closed)."""
    return 503 if decision.is_fallback else 403


UNAVAILABLE_BODY = {"error": "entitlements_unavailable", "message": "Access cannot be checked right now."}


def body_for(decision: Decision) -> dict[str, Any]:
    return UNAVAILABLE_BODY if decision.is_fallback else denial_body(decision)
