"""Typed results: frozen dataclasses built from the GraphQL answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Subject:
    """Whom a check is about: a tenant, a user, or a user within a tenant."""

    tenant_key: str | None = None
    user_key: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer of ``isEntitledTo`` / ``reportUsage``. ``is_fallback`` is true when the service could not be
    reached and the answer comes from the ``fallback`` the client was given (or is a fail-closed refusal)."""

    is_entitled: bool
    justification: str | None = None
    value: Any = None
    limit: int | None = None
    unlimited: bool = False
    used: int | None = None
    remaining: int | None = None
    resets_at: datetime | None = None
    overage: int | None = None
    warning: str | None = None
    expires_at: datetime | None = None
    message: str | None = None
    upgrade_options: tuple[str, ...] = ()
    is_fallback: bool = False
    from_cache: bool = False

    @classmethod
    def from_graphql(cls, data: dict[str, Any]) -> Decision:
        return cls(
            is_entitled=bool(data["isEntitled"]),
            justification=data.get("justification"),
            value=data.get("value"),
            limit=data.get("limit"),
            unlimited=bool(data.get("unlimited")),
            used=data.get("used"),
            remaining=data.get("remaining"),
            resets_at=_when(data.get("resetsAt")),
            overage=data.get("overage"),
            warning=data.get("warning"),
            expires_at=_when(data.get("expiresAt")),
            message=data.get("message"),
            upgrade_options=tuple(plan["key"] for plan in data.get("upgradeOptions") or ()),
        )


@dataclass(frozen=True, slots=True)
class EffectiveFeature:
    key: str
    value: Any = None
    limit: int | None = None
    unlimited: bool = False
    used: int | None = None
    remaining: int | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_graphql(cls, data: dict[str, Any]) -> EffectiveFeature:
        return cls(
            key=data["feature"]["key"],
            value=data.get("value"),
            limit=data.get("limit"),
            unlimited=bool(data.get("unlimited")),
            used=data.get("used"),
            remaining=data.get("remaining"),
            expires_at=_when(data.get("expiresAt")),
        )


@dataclass(frozen=True, slots=True)
class EffectiveEntitlements:
    """Everything a subject is entitled to now, by feature key."""

    features: dict[str, EffectiveFeature] = field(default_factory=dict)
    permissions: frozenset[str] = frozenset()
    from_cache: bool = False

    @classmethod
    def from_graphql(cls, data: dict[str, Any]) -> EffectiveEntitlements:
        features = [EffectiveFeature.from_graphql(item) for item in data.get("features") or ()]
        return cls({f.key: f for f in features}, frozenset(data.get("permissions") or ()))


@dataclass(frozen=True, slots=True)
class Reservation:
    """A usage reservation (``reserveUsage``): HELD, COMMITTED, RELEASED, EXPIRED or REFUSED."""

    id: str
    status: str
    amount: int
    committed: int | None
    expires_at: datetime | None
    decision: Decision

    @classmethod
    def from_graphql(cls, data: dict[str, Any]) -> Reservation:
        return cls(
            id=data["id"],
            status=data["status"],
            amount=data["amount"],
            committed=data.get("committed"),
            expires_at=_when(data.get("expiresAt")),
            decision=Decision.from_graphql(data["decision"]),
        )
