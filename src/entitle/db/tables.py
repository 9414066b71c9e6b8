"""The stored schema: SQLModel tables for both backends (SQLite and PostgreSQL).

Conventions: integer surrogate ids (keyset pagination orders by them), caller-chosen ``key``
columns with unique indexes, timestamps stored in UTC (naive on SQLite, ``timestamptz`` on
PostgreSQL; always returned timezone-aware), JSON for open-ended values. Every change here
needs an alembic migration; ``tests/db/test_migrations.py`` proves they agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from entitle.clock import now


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSON_NULLABLE = sa.JSON(none_as_null=True)


def utcnow() -> datetime:
    return now()


def _meta_column() -> Any:
    return Field(default_factory=dict, sa_column=sa.Column("metadata", sa.JSON, nullable=False))


def _partial_index(name: str, column: str, where: str) -> sa.Index:
    """An index of only the rows matching ``where`` (on both dialects)."""
    return sa.Index(name, column, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class FeatureRow(SQLModel, table=True):
    __tablename__ = "features"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=sa.String(64), unique=True, index=True)
    name: str = Field(sa_type=sa.String(200))
    description: str | None = Field(default=None, sa_type=sa.Text)
    type: str = Field(sa_type=sa.String(16))
    unit: str | None = Field(default=None, sa_type=sa.String(64))
    tiers: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    permissions: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    default_value: Any = Field(default=None, sa_type=JSON_NULLABLE, nullable=True)
    reset_period: str | None = Field(default=None, sa_type=sa.String(8))
    overage: str = Field(default="BLOCK", sa_type=sa.String(8))
    meta: dict[str, Any] = _meta_column()
    created_at: datetime = _created()
    updated_at: datetime = _created()
    warning_thresholds: list[int] | None = Field(default=None, sa_type=JSON_NULLABLE, nullable=True)
    """Percents of the limit (contract §11); NULL is none."""


class PlanRow(SQLModel, table=True):
    __tablename__ = "plans"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=sa.String(64), unique=True, index=True)
    name: str = Field(sa_type=sa.String(200))
    description: str | None = Field(default=None, sa_type=sa.Text)
    default_time_limitation_days: int | None = Field(default=None)
    version: int = Field(default=1, nullable=False)
    """The current version: what new entitlements get and what ``Plan.features`` shows."""
    auto_assign: bool = Field(default=False, nullable=False)
    rank: int | None = Field(default=None)
    meta: dict[str, Any] = _meta_column()
    created_at: datetime = _created()
    updated_at: datetime = _created()


class PlanVersionRow(SQLModel, table=True):
    """One published version of a plan (its feature values are the ``plan_features`` rows of it)."""

    __tablename__ = "plan_versions"

    plan_id: int = Field(foreign_key="plans.id", primary_key=True, ondelete="CASCADE")
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    created_at: datetime = _created()


class PlanFeatureRow(SQLModel, table=True):
    __tablename__ = "plan_features"

    plan_id: int = Field(foreign_key="plans.id", primary_key=True, ondelete="CASCADE")
    version: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    feature_id: int = Field(foreign_key="features.id", primary_key=True, index=True)
    position: int = Field(default=0)
    value: Any = Field(sa_type=sa.JSON, nullable=False)


class TenantRow(SQLModel, table=True):
    __tablename__ = "tenants"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=sa.String(128), unique=True, index=True)
    name: str | None = Field(default=None, sa_type=sa.String(200))
    meta: dict[str, Any] = _meta_column()
    created_at: datetime = _created()
    updated_at: datetime = _created()


class UserRow(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=sa.String(128), unique=True, index=True)
    name: str | None = Field(default=None, sa_type=sa.String(200))
    email: str | None = Field(default=None, sa_type=sa.String(320))
    meta: dict[str, Any] = _meta_column()
    created_at: datetime = _created()
    updated_at: datetime = _created()


class MembershipRow(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (sa.Index("ix_memberships_user_tenant", "user_id", "tenant_id"),)

    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    created_at: datetime = _created()


class EntitlementRow(SQLModel, table=True):
    """A grant of a plan or of one feature (with ``value``) to a tenant, a member or a user."""

    __tablename__ = "entitlements"
    __table_args__ = (
        sa.Index("ix_entitlements_tenant_user", "tenant_id", "user_id"),
        sa.Index("ix_entitlements_user_tenant", "user_id", "tenant_id"),
        sa.Index("ix_entitlements_created", "created_at", "id"),
        sa.Index("ix_entitlements_expiration", "expiration_date", "id"),
        sa.Index("ix_entitlements_start", "start_date", "id"),
        # The grants whose ENTITLEMENT_STARTED / _EXPIRED is still to come (scheduled changes).
        _partial_index("ix_entitlements_start_pending", "start_date", "start_pending = 1"),
        _partial_index("ix_entitlements_expiry_pending", "expiration_date", "expiry_pending = 1"),
        sa.CheckConstraint(
            "(plan_id IS NULL) <> (feature_id IS NULL)", name="ck_entitlements_plan_xor_feature"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    assign_level: str = Field(sa_type=sa.String(16))
    plan_id: int | None = Field(default=None, foreign_key="plans.id", index=True)
    plan_version: int | None = Field(default=None)
    """The plan version that decides it (grandfathering); null for a single-feature grant."""
    feature_id: int | None = Field(default=None, foreign_key="features.id", index=True)
    value: Any = Field(default=None, sa_type=JSON_NULLABLE, nullable=True)
    period_anchor: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    """Where its usage periods are anchored when not at ``start_date`` (a plan change carrying usage over)."""
    tenant_id: int | None = Field(default=None, foreign_key="tenants.id")
    user_id: int | None = Field(default=None, foreign_key="users.id")
    start_date: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expiration_date: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    meta: dict[str, Any] = _meta_column()
    created_at: datetime = _created()
    updated_at: datetime = _created()
    start_pending: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """1 while ENTITLEMENT_STARTED is still to be appended: set when a write puts ``start_date`` after
    its own clock, cleared by the scheduler run that takes it."""
    expiry_pending: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """The same for ``expiration_date`` (at or after the write's clock) and ENTITLEMENT_EXPIRED."""


class FeatureFlagRow(SQLModel, table=True):
    __tablename__ = "feature_flags"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=sa.String(64), unique=True, index=True)
    name: str = Field(sa_type=sa.String(200))
    description: str | None = Field(default=None, sa_type=sa.Text)
    on: bool = Field(default=False)
    tenant_keys: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    user_keys: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    rules: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    percentage: int | None = Field(default=None)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class FeatureFlagFeatureRow(SQLModel, table=True):
    __tablename__ = "feature_flag_features"

    flag_id: int = Field(foreign_key="feature_flags.id", primary_key=True, ondelete="CASCADE")
    feature_id: int = Field(foreign_key="features.id", primary_key=True, index=True)
    position: int = Field(default=0)


class ApiRouteRow(SQLModel, table=True):
    __tablename__ = "api_routes"

    id: int | None = Field(default=None, primary_key=True)
    method: str = Field(sa_type=sa.String(16))
    path_pattern: str = Field(sa_type=sa.String(1000))
    policy: str = Field(sa_type=sa.String(24))
    feature_id: int | None = Field(default=None, foreign_key="features.id", index=True)
    permission_key: str | None = Field(default=None, sa_type=sa.String(128))
    priority: int = Field(default=0)
    created_at: datetime = _created()


class ApiKeyRow(SQLModel, table=True):
    """A management API key; only the SHA-256 of the (high-entropy) secret is stored."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(200))
    key_hash: str = Field(sa_type=sa.String(64), unique=True, index=True)
    read_only: bool = Field(default=False)
    created_at: datetime = _created()


class BatchResultRow(SQLModel, table=True):
    """The recorded answer of an idempotent batch mutation (replayed on a retry)."""

    __tablename__ = "batch_results"

    operation: str = Field(sa_type=sa.String(64), primary_key=True)
    idempotency_key: str = Field(sa_type=sa.String(200), primary_key=True)
    response: dict[str, Any] = Field(sa_type=sa.JSON, nullable=False)
    created_at: datetime = _created()


class UsageCounterRow(SQLModel, table=True):
    """Units a subject used of a metered feature in one period (``subject_kind``: T or U).

    ``held`` is what unsettled reservations hold (``held_until``: the earliest expiry among them, so a
    reader knows when ``held`` may include expired holds). ``alerted_threshold`` is the highest warning
    threshold announced this period, ``limit_alerted`` 1 once going over the limit was announced.
    """

    __table_args__ = (
        # The counters whose USAGE_PERIOD_RESET is still to come: the current periods (and, for a
        # moment, those that just ended), not every period ever counted.
        _partial_index("ix_usage_counters_reset_pending", "period_end", "reset_appended = 0"),
    )

    __tablename__ = "usage_counters"

    subject_kind: str = Field(sa_type=sa.String(1), primary_key=True)
    subject_id: int = Field(primary_key=True)
    feature_id: int = Field(foreign_key="features.id", primary_key=True)
    period_start: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    used: int = Field(default=0, sa_type=sa.BigInteger)
    held: int = Field(default=0, sa_type=sa.BigInteger, sa_column_kwargs={"server_default": "0"})
    held_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    period_end: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    """When the period ends (USAGE_PERIOD_RESET is appended then); NULL for rows written before 0006."""
    alerted_threshold: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    limit_alerted: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    reset_appended: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """1 once the scheduler has dealt with the period's end (appended USAGE_PERIOD_RESET if ``used``)."""


class UsageReservationRow(SQLModel, table=True):
    """A hold of units on one usage counter (``reserveUsage``), keyed for idempotency like usage events.

    ``response`` is the decision of the last operation on it (reserve, then commit).
    """

    __tablename__ = "usage_reservations"
    __table_args__ = (
        sa.UniqueConstraint(
            "subject_kind", "subject_id", "feature_id", "idempotency_key", name="uq_usage_reservations_key"
        ),
        sa.Index(
            "ix_usage_reservations_counter",
            "subject_kind",
            "subject_id",
            "feature_id",
            "period_start",
            "status",
        ),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    subject_kind: str = Field(sa_type=sa.String(1), nullable=False)
    subject_id: int = Field(nullable=False)
    feature_id: int = Field(foreign_key="features.id", nullable=False)
    idempotency_key: str = Field(sa_type=sa.String(200), nullable=False)
    period_start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    tenant_key: str | None = Field(default=None, sa_type=sa.String(128))
    user_key: str | None = Field(default=None, sa_type=sa.String(128))
    status: str = Field(sa_type=sa.String(16), nullable=False)
    amount: int = Field(sa_type=sa.BigInteger, nullable=False)
    committed: int | None = Field(default=None, sa_type=sa.BigInteger)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    response: dict[str, Any] = Field(sa_type=sa.JSON, nullable=False)
    created_at: datetime = _created()
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UsageRecordRow(SQLModel, table=True):
    """Every consumption applied or refused (``reportUsage``, ``commitUsage``): the usage history."""

    __tablename__ = "usage_records"

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    tenant_key: str | None = Field(default=None, sa_type=sa.String(128), index=True)
    user_key: str | None = Field(default=None, sa_type=sa.String(128), index=True)
    feature_key: str = Field(sa_type=sa.String(64), nullable=False, index=True)
    amount: int = Field(sa_type=sa.BigInteger, nullable=False)
    idempotency_key: str = Field(sa_type=sa.String(200), nullable=False)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    accepted: bool = Field(nullable=False)
    reservation_id: int | None = Field(default=None, sa_type=sa.BigInteger)


class UsageEventRow(SQLModel, table=True):
    """One applied ``reportUsage`` call, keyed for idempotency, with the answer it got."""

    __tablename__ = "usage_events"

    subject_kind: str = Field(sa_type=sa.String(1), primary_key=True)
    subject_id: int = Field(primary_key=True)
    feature_id: int = Field(foreign_key="features.id", primary_key=True)
    idempotency_key: str = Field(sa_type=sa.String(200), primary_key=True)
    amount: int = Field(sa_type=sa.BigInteger)
    response: dict[str, Any] = Field(sa_type=sa.JSON, nullable=False)
    created_at: datetime = _created()


class RevisionRow(SQLModel, table=True):
    """Change counters per cache scope; every process polls them to drop stale caches."""

    __tablename__ = "revisions"

    scope: str = Field(sa_type=sa.String(32), primary_key=True)
    value: int = Field(default=0, sa_type=sa.BigInteger)


class ChangeRow(SQLModel, table=True):
    """One committed write, appended in the writing transaction (the transactional outbox, contract §9).

    ``txid`` is the writing transaction's id on PostgreSQL (0 on SQLite); readers order by
    ``(txid, id)`` and read only transactions older than every running one (see domain/changes.py).
    Rows are never updated or deleted.
    """

    __tablename__ = "changes"
    __table_args__ = (sa.Index("ix_changes_position", "txid", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    txid: int = Field(sa_type=sa.BigInteger, nullable=False)
    kind: str = Field(sa_type=sa.String(32), nullable=False)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    actor: str = Field(sa_type=sa.String(200), nullable=False)
    tenant_key: str | None = Field(default=None, sa_type=sa.String(128), index=True)
    user_key: str | None = Field(default=None, sa_type=sa.String(128), index=True)
    feature_key: str | None = Field(default=None, sa_type=sa.String(64))
    plan_key: str | None = Field(default=None, sa_type=sa.String(64))
    entitlement_id: int | None = Field(default=None)
    payload: dict[str, Any] = Field(sa_type=sa.JSON, nullable=False)


class WebhookEndpointRow(SQLModel, table=True):
    """Where webhooks go (contract §10). ``secret`` signs; after a rotation ``previous_secret`` also
    signs until ``previous_secret_until``. Neither is ever shown by the API after create/rotate."""

    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_type=sa.String(2048), nullable=False)
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    description: str | None = Field(default=None, sa_type=sa.String(1000))
    enabled: bool = Field(default=True, nullable=False)
    secret: str = Field(sa_type=sa.String(100), nullable=False)
    previous_secret: str | None = Field(default=None, sa_type=sa.String(100))
    previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class WebhookDeliveryRow(SQLModel, table=True):
    """One event for one endpoint (the webhook outbox): it exists before it is first attempted.

    An endpoint's deliveries are sent in ``id`` order, which is revision order (fan-out appends them
    in revision order, one process at a time). ``lease_owner``/``lease_until`` say which process is
    sending it; an expired lease (a killed process) lets another take it over.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_queue", "status", "endpoint_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id", ondelete="CASCADE", index=True)
    change_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    message_id: str = Field(sa_type=sa.String(64), nullable=False)
    event_type: str = Field(sa_type=sa.String(64), nullable=False)
    body: str = Field(sa_type=sa.Text, nullable=False)
    status: str = Field(sa_type=sa.String(16), nullable=False)
    attempts: int = Field(default=0, nullable=False)
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=sa.String(500))
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retry_until: datetime = Field(sa_type=UTCDateTime, nullable=False)
    lease_owner: str | None = Field(default=None, sa_type=sa.String(64))
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _created()
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ScheduleCursorRow(SQLModel, table=True):
    """Up to which instant the schedule last ran. Claiming this row in a run's transaction lets one run
    at a time take what is due; what is due is marked on the rows themselves (``start_pending``,
    ``expiry_pending``, ``reset_appended``), not found between two cursor positions."""

    __tablename__ = "schedule_cursor"

    name: str = Field(sa_type=sa.String(32), primary_key=True)
    until: datetime = Field(sa_type=UTCDateTime, nullable=False)


class WebhookCursorRow(SQLModel, table=True):
    """Up to which revision changes have been fanned out into deliveries (one row, ``id = 1``)."""

    __tablename__ = "webhook_cursor"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    txid: int = Field(sa_type=sa.BigInteger, nullable=False)
    seq: int = Field(sa_type=sa.BigInteger, nullable=False)


class DecisionLogRow(SQLModel, table=True):
    """One recorded ``isEntitledTo`` decision (contract §12, ``ENTITLE_DECISION_LOG``), written in batches
    by a background task; rows older than ``ENTITLE_DECISION_LOG_DAYS`` are deleted."""

    __tablename__ = "decision_log"

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    tenant_key: str | None = Field(default=None, sa_type=sa.String(128), index=True)
    user_key: str | None = Field(default=None, sa_type=sa.String(128), index=True)
    feature_key: str | None = Field(default=None, sa_type=sa.String(128))
    permission_key: str | None = Field(default=None, sa_type=sa.String(128))
    route_method: str | None = Field(default=None, sa_type=sa.String(16))
    route_path: str | None = Field(default=None, sa_type=sa.String(1000))
    is_entitled: bool = Field(nullable=False)
    justification: str | None = Field(default=None, sa_type=sa.String(32))
    usage: int | None = Field(default=None, sa_type=sa.BigInteger)
    actor: str = Field(sa_type=sa.String(200), nullable=False)


metadata = SQLModel.metadata

# Core tables, for the statements the repositories build.
FEATURES: sa.Table = FeatureRow.__table__  # type: ignore[attr-defined]
PLANS: sa.Table = PlanRow.__table__  # type: ignore[attr-defined]
PLAN_FEATURES: sa.Table = PlanFeatureRow.__table__  # type: ignore[attr-defined]
PLAN_VERSIONS: sa.Table = PlanVersionRow.__table__  # type: ignore[attr-defined]
TENANTS: sa.Table = TenantRow.__table__  # type: ignore[attr-defined]
USERS: sa.Table = UserRow.__table__  # type: ignore[attr-defined]
MEMBERSHIPS: sa.Table = MembershipRow.__table__  # type: ignore[attr-defined]
ENTITLEMENTS: sa.Table = EntitlementRow.__table__  # type: ignore[attr-defined]
FLAGS: sa.Table = FeatureFlagRow.__table__  # type: ignore[attr-defined]
FLAG_FEATURES: sa.Table = FeatureFlagFeatureRow.__table__  # type: ignore[attr-defined]
ROUTES: sa.Table = ApiRouteRow.__table__  # type: ignore[attr-defined]
API_KEYS: sa.Table = ApiKeyRow.__table__  # type: ignore[attr-defined]
BATCH_RESULTS: sa.Table = BatchResultRow.__table__  # type: ignore[attr-defined]
USAGE_COUNTERS: sa.Table = UsageCounterRow.__table__  # type: ignore[attr-defined]
USAGE_EVENTS: sa.Table = UsageEventRow.__table__  # type: ignore[attr-defined]
USAGE_RESERVATIONS: sa.Table = UsageReservationRow.__table__  # type: ignore[attr-defined]
USAGE_RECORDS: sa.Table = UsageRecordRow.__table__  # type: ignore[attr-defined]
REVISIONS: sa.Table = RevisionRow.__table__  # type: ignore[attr-defined]
CHANGES: sa.Table = ChangeRow.__table__  # type: ignore[attr-defined]
WEBHOOK_ENDPOINTS: sa.Table = WebhookEndpointRow.__table__  # type: ignore[attr-defined]
WEBHOOK_DELIVERIES: sa.Table = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
WEBHOOK_CURSOR: sa.Table = WebhookCursorRow.__table__  # type: ignore[attr-defined]
SCHEDULE_CURSOR: sa.Table = ScheduleCursorRow.__table__  # type: ignore[attr-defined]
DECISION_LOG: sa.Table = DecisionLogRow.__table__  # type: ignore[attr-defined]
