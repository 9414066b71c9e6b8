"""The change feed's vocabulary (contract §9): kinds, event names, revisions, and what a change touches.

A **revision** is a position in the feed: ``(txid, seq)`` — the writing transaction's id (0 on SQLite,
whose writers are serialized) and the change's sequence number. Changes are read in revision order,
and only those of transactions older than every transaction of the database still running, so a
change that commits late with an earlier-allocated sequence number always sorts after what a reader
has already seen: a tailing reader never skips one. The string form is opaque to clients,
fixed-length and sorts like the position.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from entitle.domain.errors import BadUserInput
from entitle.domain.model import JsonValue, json_value

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class ChangeKind(StrEnum):
    ENTITLEMENT_GRANTED = "ENTITLEMENT_GRANTED"
    ENTITLEMENT_UPDATED = "ENTITLEMENT_UPDATED"
    ENTITLEMENT_REVOKED = "ENTITLEMENT_REVOKED"
    ENTITLEMENT_STARTED = "ENTITLEMENT_STARTED"
    ENTITLEMENT_EXPIRED = "ENTITLEMENT_EXPIRED"
    TENANT_UPSERTED = "TENANT_UPSERTED"
    USER_UPSERTED = "USER_UPSERTED"
    MEMBERSHIP_ADDED = "MEMBERSHIP_ADDED"
    MEMBERSHIP_REMOVED = "MEMBERSHIP_REMOVED"
    FEATURE_CREATED = "FEATURE_CREATED"
    FEATURE_UPDATED = "FEATURE_UPDATED"
    FEATURE_DELETED = "FEATURE_DELETED"
    PLAN_CREATED = "PLAN_CREATED"
    PLAN_UPDATED = "PLAN_UPDATED"
    PLAN_DELETED = "PLAN_DELETED"
    FLAG_CREATED = "FLAG_CREATED"
    FLAG_UPDATED = "FLAG_UPDATED"
    FLAG_DELETED = "FLAG_DELETED"
    ROUTE_CREATED = "ROUTE_CREATED"
    ROUTE_DELETED = "ROUTE_DELETED"
    USAGE_THRESHOLD_REACHED = "USAGE_THRESHOLD_REACHED"
    USAGE_LIMIT_EXCEEDED = "USAGE_LIMIT_EXCEEDED"
    USAGE_PERIOD_RESET = "USAGE_PERIOD_RESET"

    @property
    def event_name(self) -> str:
        """The webhook event name: ``ENTITLEMENT_GRANTED`` is ``entitlement.granted``."""
        head, _, rest = self.value.partition("_")
        return f"{head.lower()}.{rest.lower()}"

    @property
    def is_catalog(self) -> bool:
        return self.value.startswith(("FEATURE_", "PLAN_", "FLAG_", "ROUTE_"))


EVENT_KINDS = {kind.event_name: kind for kind in ChangeKind}
"""Event name → kind, for webhook subscriptions."""


@dataclass(frozen=True, slots=True, order=True)
class Revision:
    """A position in the feed; ``Revision(0, 0)`` is before every change."""

    txid: int
    seq: int

    _FORMAT = re.compile(r"^[0-9a-f]{32}$")

    def __str__(self) -> str:
        return f"{self.txid:016x}{self.seq:016x}"

    @classmethod
    def parse(cls, text: str, *, field: str = "minRevision") -> Revision:
        """The revision a client sent back; anything this service did not issue is ``BAD_USER_INPUT``."""
        if not isinstance(text, str) or not cls._FORMAT.match(text):
            raise BadUserInput("not a revision this service issued", field=field)
        return cls(int(text[:16], 16), int(text[16:], 16))


START = Revision(0, 0)


@dataclass(frozen=True, slots=True)
class NewChange:
    """A change as a write path records it (appending adds revision, time and actor)."""

    kind: ChangeKind
    tenant_key: str | None = None
    user_key: str | None = None
    feature_key: str | None = None
    plan_key: str | None = None
    entitlement_id: int | None = None
    payload: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """A committed change, as the feed answers it."""

    id: int
    revision: Revision
    kind: ChangeKind
    at: datetime
    actor: str
    tenant_key: str | None
    user_key: str | None
    feature_key: str | None
    plan_key: str | None
    entitlement_id: int | None
    payload: dict[str, JsonValue]


@dataclass(frozen=True, slots=True)
class Touched:
    """What a change can make stale: the catalog, or subjects by key (``(tenant, None)`` is a whole tenant
    with its members; ``(None, user)`` a user everywhere; ``(tenant, user)`` one membership)."""

    catalog: bool = False
    subjects: frozenset[tuple[str | None, str | None]] = frozenset()


def touched(change: Change | NewChange) -> Touched:
    """The cache entries a change makes stale (contract §9, freshness)."""
    if change.kind.is_catalog:
        return Touched(catalog=True)
    return Touched(subjects=frozenset({(change.tenant_key, change.user_key)}))


_INTERNAL = frozenset(
    {"id", "plan_id", "feature_id", "tenant_id", "user_id", "position", "period_anchor"}
    | {"start_pending", "expiry_pending"}  # the scheduler's marks on a grant (bookkeeping, not the grant)
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _json(value: object) -> JsonValue:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    return json_value(value)


def shown(values: Mapping[str, object]) -> dict[str, JsonValue]:
    """Stored values as the API names and shows them: camelCase names, ISO-8601 UTC instants, internal
    ids left out."""
    return {_camel(name): _json(value) for name, value in values.items() if name not in _INTERNAL}


def payload_of(
    record: DataclassInstance, *, before: DataclassInstance | None = None, **extra: JsonValue
) -> dict[str, JsonValue]:
    """A change's payload: a stored record's fields as the API shows them, plus ``extra`` (keys the API
    shows instead of ids), and for an update the previous state as ``before``."""
    payload = shown({f.name: getattr(record, f.name) for f in dataclasses.fields(record)})
    payload.update(extra)
    if before is not None:
        payload["before"] = payload_of(before)
    return payload
