"""The change feed's types (contract §9)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from entitle.domain.changes import Change as DomainChange
from entitle.graphql.core.context import Info
from entitle.graphql.core.enums import ChangeKind
from entitle.graphql.core.relay import Connection, Node, load_nodes, to_global_id
from entitle.graphql.core.scalars import JSON
from entitle.services.lookups import ChangeRecord, to_change

if TYPE_CHECKING:
    from entitle.graphql.decisions.types import EffectiveEntitlements
    from entitle.graphql.entitlements.types import Entitlement


@strawberry.type(description="One committed write, as the change feed records it.")
class Change(Node):
    id: strawberry.ID
    revision: str
    kind: ChangeKind
    at: datetime
    actor: str
    tenant_key: str | None
    user_key: str | None
    feature_key: str | None
    plan_key: str | None
    payload: JSON
    entitlement_id: strawberry.Private[int | None]

    @classmethod
    def from_domain(cls, change: DomainChange) -> Change:
        return cls(
            id=to_global_id("Change", change.id),
            revision=str(change.revision),
            kind=change.kind,
            at=change.at,
            actor=change.actor,
            tenant_key=change.tenant_key,
            user_key=change.user_key,
            feature_key=change.feature_key,
            plan_key=change.plan_key,
            payload=JSON(change.payload),
            entitlement_id=change.entitlement_id,
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[Change | None]:
        return await load_nodes(info.context.loaders.change_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: ChangeRecord) -> Change:
        return cls.from_domain(to_change(record))

    @strawberry.field(description="The entitlement the change is about (null once it no longer exists).")
    async def entitlement(
        self, info: Info
    ) -> Annotated[Entitlement, strawberry.lazy("entitle.graphql.entitlements.types")] | None:
        from entitle.graphql.entitlements.types import Entitlement

        if self.entitlement_id is None:
            return None
        record = await info.context.loaders.entitlement_by_id.load(self.entitlement_id)
        return None if record is None else Entitlement.from_record(record)


@strawberry.input
class ChangeFilter:
    kinds: list[ChangeKind] | None = None
    tenant_keys: list[str] | None = None
    user_keys: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_revision: str | None = None


@strawberry.type
class EntitlementsChangedEvent:
    revision: str
    change: Change
    effective: Annotated[EffectiveEntitlements, strawberry.lazy("entitle.graphql.decisions.types")]


@strawberry.type
class ChangeConnection(Connection[Change]):
    pass
