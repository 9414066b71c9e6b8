"""Python client for the Entitle entitlements service."""

from entitle_client._cache import LiveCache
from entitle_client._client import AsyncEntitleClient, EntitleClient
from entitle_client.errors import (
    BadUserInput,
    Conflict,
    EntitleAPIError,
    EntitleError,
    EntitleUnavailable,
    Forbidden,
    NotFound,
    NotImplementedByServer,
    Unauthenticated,
)
from entitle_client.types import Decision, EffectiveEntitlements, EffectiveFeature, Reservation, Subject

__all__ = [
    "AsyncEntitleClient",
    "BadUserInput",
    "Conflict",
    "Decision",
    "EffectiveEntitlements",
    "EffectiveFeature",
    "EntitleAPIError",
    "EntitleClient",
    "EntitleError",
    "EntitleUnavailable",
    "Forbidden",
    "LiveCache",
    "NotFound",
    "NotImplementedByServer",
    "Reservation",
    "Subject",
    "Unauthenticated",
]
