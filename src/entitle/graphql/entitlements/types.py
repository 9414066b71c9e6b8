"""GraphQL types of grants: Entitlement and its connection (the filter and order, shared with the plans' and
tenants' ``entitlements`` fields, are in ``graphql/core/entitlement_listing.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import strawberry

from entitle.clock import now
from entitle.domain.status import entitlement_status
from entitle.graphql.catalog.types import Feature, Plan, rendered
from entitle.graphql.core.context import Info
from entitle.graphql.core.enums import AssignLevel, EntitlementStatus
from entitle.graphql.core.relay import (
    Connection,
    Node,
    load_all,
    load_nodes,
    node_fields,
    resolved,
    to_global_id,
)
from entitle.graphql.core.scalars import JSON
from entitle.graphql.subjects.types import Tenant, User
from entitle.services.lookups import entitlement_record


@strawberry.type
class Entitlement(Node):
    id: strawberry.ID
    assign_level: AssignLevel
    value: JSON | None
    start_date: datetime
    expiration_date: datetime | None
    revoked_at: datetime | None
    reason: str | None
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[Any]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[Entitlement | None]:
        return await load_nodes(info.context.loaders.entitlement_by_id, node_ids, cls.from_row)

    @classmethod
    def from_row(cls, row: Any) -> Entitlement:
        return cls(
            id=to_global_id("Entitlement", row.id),
            row=row,
            assign_level=AssignLevel(row.assign_level),
            value=row.value,
            start_date=row.start_date,
            expiration_date=row.expiration_date,
            revoked_at=row.revoked_at,
            reason=row.reason,
            metadata=JSON(row.metadata or {}),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="Computed now: REVOKED, SCHEDULED (not started), EXPIRED or ACTIVE.")
    def status(self) -> EntitlementStatus:
        return EntitlementStatus(entitlement_status(entitlement_record(self.row), now()))

    @strawberry.field(
        description="The plan version that decides this entitlement (null for a single feature)."
    )
    def plan_version(self) -> int | None:
        version: int | None = self.row.plan_version
        return version

    # The catalog relations resolve synchronously from the process's catalog snapshot; only on a
    # cold cache do they return an awaitable (which graphql-core awaits) that goes through the loader.

    @strawberry.field
    def plan(self, info: Info) -> Plan | None:
        if self.row.plan_id is None:
            return None
        snapshot = info.context.runtime.catalog.peek()
        if snapshot is not None:
            return rendered(snapshot).plan(self.row.plan_id)
        return resolved(info.context.loaders.plan_by_id.load(self.row.plan_id), Plan.from_row)  # type: ignore[return-value]

    @strawberry.field
    def feature(self, info: Info) -> Feature | None:
        if self.row.feature_id is None:
            return None
        snapshot = info.context.runtime.catalog.peek()
        if snapshot is not None:
            return rendered(snapshot).feature(self.row.feature_id)
        return resolved(info.context.loaders.feature_by_id.load(self.row.feature_id), Feature.from_row)  # type: ignore[return-value]

    # Synchronous when the page loaded its tenants and users ahead (EntitlementConnection.load_ahead),
    # else an awaitable of the per-request loader (a nested or single entitlement).

    @strawberry.field
    def tenant(self, info: Info) -> Tenant | None:
        if self.row.tenant_id is None:
            return None
        return resolved(info.context.loaders.tenant_by_id.load(self.row.tenant_id), Tenant.from_row)  # type: ignore[return-value]

    @strawberry.field
    def user(self, info: Info) -> User | None:
        if self.row.user_id is None:
            return None
        return resolved(info.context.loaders.user_by_id.load(self.row.user_id), User.from_row)  # type: ignore[return-value]


@strawberry.type
class EntitlementConnection(Connection[Entitlement]):
    @classmethod
    async def load_ahead(cls, rows: Sequence[Any], info: Info) -> None:
        wanted = node_fields(info)
        loaders = info.context.loaders
        loads = []
        if "tenant" in wanted:
            loads.append(load_all(loaders.tenant_by_id, (row.tenant_id for row in rows)))
        if "user" in wanted:
            loads.append(load_all(loaders.user_by_id, (row.user_id for row in rows)))
        await asyncio.gather(*loads)
