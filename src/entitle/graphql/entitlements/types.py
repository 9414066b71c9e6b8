"""GraphQL types of grants: Entitlement and its connection (the filter and order, shared with the plans' and
tenants' ``entitlements`` fields, are in ``graphql/core/entitlement_listing.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime

import strawberry

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
from entitle.services.lookups import StoredEntitlement, entitlement_record


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
    record: strawberry.Private[StoredEntitlement]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[Entitlement | None]:
        return await load_nodes(info.context.loaders.entitlement_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: StoredEntitlement) -> Entitlement:
        return cls(
            id=to_global_id("Entitlement", record.id),
            record=record,
            assign_level=AssignLevel(record.assign_level),
            value=record.value,
            start_date=record.start_date,
            expiration_date=record.expiration_date,
            revoked_at=record.revoked_at,
            reason=record.reason,
            metadata=JSON(record.metadata or {}),
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    @strawberry.field(description="Computed now: REVOKED, SCHEDULED (not started), EXPIRED or ACTIVE.")
    def status(self, info: Info) -> EntitlementStatus:
        at = info.context.runtime.clock()
        return EntitlementStatus(entitlement_status(entitlement_record(self.record), at))

    @strawberry.field(
        description="The plan version that decides this entitlement (null for a single feature)."
    )
    def plan_version(self) -> int | None:
        return self.record.plan_version

    # The catalog relations resolve synchronously from the process's catalog snapshot; only on a
    # cold cache do they return an awaitable (which graphql-core awaits) that goes through the loader.

    @strawberry.field
    def plan(self, info: Info) -> Plan | None:
        plan_id = self.record.plan_id
        if plan_id is None:
            return None
        snapshot = info.context.runtime.catalog.peek()
        if snapshot is not None:
            return rendered(snapshot).plan(plan_id)
        return resolved(info.context.loaders.plan_by_id.load(plan_id), Plan.from_record)  # type: ignore[return-value]

    @strawberry.field
    def feature(self, info: Info) -> Feature | None:
        feature_id = self.record.feature_id
        if feature_id is None:
            return None
        snapshot = info.context.runtime.catalog.peek()
        if snapshot is not None:
            return rendered(snapshot).feature(feature_id)
        return resolved(info.context.loaders.feature_by_id.load(feature_id), Feature.from_record)  # type: ignore[return-value]

    # Synchronous when the page loaded its tenants and users ahead (EntitlementConnection.load_ahead),
    # else an awaitable of the per-request loader (a nested or single entitlement).

    @strawberry.field
    def tenant(self, info: Info) -> Tenant | None:
        tenant_id = self.record.tenant_id
        if tenant_id is None:
            return None
        return resolved(info.context.loaders.tenant_by_id.load(tenant_id), Tenant.from_record)  # type: ignore[return-value]

    @strawberry.field
    def user(self, info: Info) -> User | None:
        user_id = self.record.user_id
        if user_id is None:
            return None
        return resolved(info.context.loaders.user_by_id.load(user_id), User.from_record)  # type: ignore[return-value]


@strawberry.type
class EntitlementConnection(Connection[Entitlement]):
    @classmethod
    async def load_ahead(cls, nodes: Sequence[Entitlement], info: Info) -> None:
        wanted = node_fields(info)
        loaders = info.context.loaders
        loads = []
        if "tenant" in wanted:
            loads.append(load_all(loaders.tenant_by_id, (node.record.tenant_id for node in nodes)))
        if "user" in wanted:
            loads.append(load_all(loaders.user_by_id, (node.record.user_id for node in nodes)))
        await asyncio.gather(*loads)
