"""The domain's vocabulary: plain, immutable data with no I/O, no ORM and no clock.

Everything the decision engine reads is here. The database layer builds these objects;
the GraphQL layer renders them. Nothing in this package reads the time: every function
that depends on it takes an explicit ``at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias

JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | float | bool | None"
"""A value decoded from JSON (None, bool, int, float, str, list, dict); ``json_value`` narrows an
``object`` (what strawberry's ``JSON`` scalar is typed as) to one."""

JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object: stored answers, metadata."""


def json_value(value: object) -> JsonValue:
    """``value`` itself, typed as the JSON it is (objects with string keys, lists, strings, numbers,
    booleans, null, nested); TypeError for anything else. What a decoder returned always passes."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, list):
        for item in value:
            json_value(item)
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"a JSON object's keys are strings, not {type(key).__name__}")
            json_value(item)
        return value
    raise TypeError(f"not a JSON value: {type(value).__name__}")


UNLIMITED = "unlimited"
"""The JSON value of an unlimited ``LIMIT`` feature."""


class FeatureType(StrEnum):
    BOOLEAN = "BOOLEAN"
    LIMIT = "LIMIT"
    TIER = "TIER"
    LIST = "LIST"


class ResetPeriod(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


class OverageHandling(StrEnum):
    BLOCK = "BLOCK"
    ALLOW = "ALLOW"
    WARN = "WARN"


class AssignLevel(StrEnum):
    TENANT = "TENANT"
    USER = "USER"
    INDIVIDUAL = "INDIVIDUAL"


class EntitlementStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SCHEDULED = "SCHEDULED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class SubscriptionContext(StrEnum):
    ORGANIZATION = "ORGANIZATION"
    INDIVIDUAL = "INDIVIDUAL"


class SourceKind(StrEnum):
    PLAN = "PLAN"
    GRANT = "GRANT"
    FEATURE_FLAG = "FEATURE_FLAG"
    ROUTE = "ROUTE"


class Justification(StrEnum):
    UNKNOWN_SUBJECT = "UNKNOWN_SUBJECT"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    UNKNOWN_FEATURE = "UNKNOWN_FEATURE"
    PLAN_EXPIRED = "PLAN_EXPIRED"
    NOT_STARTED = "NOT_STARTED"
    MISSING_FEATURE = "MISSING_FEATURE"
    MISSING_PERMISSION = "MISSING_PERMISSION"
    MISSING_ROUTE = "MISSING_ROUTE"
    ROUTE_DENIED = "ROUTE_DENIED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


class RoutePolicy(StrEnum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    REQUIRE_FEATURE = "REQUIRE_FEATURE"
    REQUIRE_PERMISSION = "REQUIRE_PERMISSION"


class FlagAttribute(StrEnum):
    TENANT_KEY = "TENANT_KEY"
    USER_KEY = "USER_KEY"
    TENANT_METADATA = "TENANT_METADATA"
    USER_METADATA = "USER_METADATA"


class FlagOperator(StrEnum):
    IN_LIST = "IN_LIST"
    EQUALS = "EQUALS"
    CONTAINS = "CONTAINS"
    STARTS_WITH = "STARTS_WITH"
    ENDS_WITH = "ENDS_WITH"
    GREATER_THAN = "GREATER_THAN"
    LESS_THAN = "LESS_THAN"


# --------------------------------------------------------------------------- catalog


@dataclass(frozen=True, slots=True)
class Feature:
    id: int
    key: str
    name: str
    type: FeatureType
    tiers: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    default_value: JsonValue = None
    reset_period: ResetPeriod | None = None
    overage: OverageHandling = OverageHandling.BLOCK
    unit: str | None = None
    description: str | None = None
    warning_thresholds: tuple[int, ...] = ()
    """Percents of the limit at which a consumption warns (contract §11), ascending."""

    @property
    def metered(self) -> bool:
        """A LIMIT feature with a reset period counts usage per period."""
        return self.type is FeatureType.LIMIT and self.reset_period is not None


@dataclass(frozen=True, slots=True)
class PlanFeatureValue:
    feature_id: int
    value: JsonValue


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan at its current ``version`` (``features`` are that version's values).

    ``earlier_versions`` holds the values of its other versions, ``(version, features)``, which
    grandfathered entitlements are still decided by. ``rank`` orders upgrade options (None last);
    ``auto_assign`` plans are granted to every tenant created while it is set.
    """

    id: int
    key: str
    name: str
    features: tuple[PlanFeatureValue, ...] = ()
    default_time_limitation_days: int | None = None
    version: int = 1
    rank: int | None = None
    auto_assign: bool = False
    earlier_versions: tuple[tuple[int, tuple[PlanFeatureValue, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class FlagRule:
    attribute: FlagAttribute
    operator: FlagOperator
    values: tuple[str, ...]
    path: str | None = None
    negate: bool = False


@dataclass(frozen=True, slots=True)
class FeatureFlag:
    id: int
    key: str
    on: bool
    feature_ids: tuple[int, ...]
    tenant_keys: frozenset[str] = frozenset()
    user_keys: frozenset[str] = frozenset()
    rules: tuple[FlagRule, ...] = ()
    percentage: int | None = None


@dataclass(frozen=True, slots=True)
class ApiRoute:
    id: int
    method: str
    path_pattern: str
    policy: RoutePolicy
    feature_id: int | None = None
    permission_key: str | None = None
    priority: int = 0


# --------------------------------------------------------------------------- subjects


@dataclass(frozen=True, slots=True)
class EntitlementRecord:
    """One grant to a subject: either a plan (``plan_id``) or one feature with a ``value``.

    Active on the half-open interval ``[start_date, expiration_date)`` unless revoked;
    a revocation at ``revoked_at`` ends it from that instant on.
    """

    id: int
    assign_level: AssignLevel
    start_date: datetime
    created_at: datetime
    plan_id: int | None = None
    feature_id: int | None = None
    value: JsonValue = None
    expiration_date: datetime | None = None
    revoked_at: datetime | None = None
    tenant_id: int | None = None
    user_id: int | None = None
    plan_version: int | None = None
    """The plan version that decides it; None: the plan's current version."""
    period_anchor: datetime | None = None
    """Where its usage periods are anchored; None: at ``start_date``."""

    @property
    def anchor(self) -> datetime:
        """The instant its usage periods are anchored at (``start_date`` unless carried over)."""
        return self.start_date if self.period_anchor is None else self.period_anchor


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """A tenant or user as the decision sees it: its key and metadata (for flag rules)."""

    id: int
    key: str
    metadata: Mapping[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subject:
    """The subscription context of one request, as loaded from storage.

    ``tenant_key``/``user_key`` are what the caller asked about; ``tenant``/``user`` are the
    stored rows (None when that key is unknown or was not asked). ``entitlements`` holds every
    entitlement of the context whatever its status (the engine needs expired and future ones
    to justify a refusal): the tenant's TENANT-level ones plus the user's USER-level ones in that
    tenant (organization context), or the user's INDIVIDUAL ones (individual context).
    """

    tenant_key: str | None
    user_key: str | None
    tenant: SubjectRef | None = None
    user: SubjectRef | None = None
    is_member: bool = False
    entitlements: tuple[EntitlementRecord, ...] = ()

    @property
    def context(self) -> SubscriptionContext:
        if self.tenant_key is not None:
            return SubscriptionContext.ORGANIZATION
        return SubscriptionContext.INDIVIDUAL

    @property
    def known(self) -> bool:
        """Every key the caller gave names a stored tenant / user."""
        return (self.tenant_key is None or self.tenant is not None) and (
            self.user_key is None or self.user is not None
        )
