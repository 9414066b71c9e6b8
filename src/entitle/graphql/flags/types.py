"""GraphQL types of feature flags."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import strawberry

from entitle.graphql.catalog.types import Feature
from entitle.graphql.core.context import Info
from entitle.graphql.core.enums import FlagAttribute, FlagOperator
from entitle.graphql.core.permissions import management
from entitle.graphql.core.relay import Connection, Node, load_nodes, to_global_id
from entitle.services.lookups import FlagRecord


@strawberry.type
class FlagRule:
    attribute: FlagAttribute
    path: str | None
    operator: FlagOperator
    values: list[str]
    negate: bool


@strawberry.type
class FeatureFlag(Node):
    id: strawberry.ID
    key: str
    name: str
    description: str | None
    on: bool
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]
    targeted_tenant_keys: strawberry.Private[list[str]]
    targeted_user_keys: strawberry.Private[list[str]]
    targeting_rules: strawberry.Private[list[FlagRule]]
    rollout_percentage: strawberry.Private[int | None]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[FeatureFlag | None]:
        return await load_nodes(info.context.loaders.flag_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: FlagRecord) -> FeatureFlag:
        return cls(
            id=to_global_id("FeatureFlag", record.id),
            pk=record.id,
            key=record.key,
            name=record.name,
            description=record.description,
            on=record.on,
            targeted_tenant_keys=list(record.tenant_keys),
            targeted_user_keys=list(record.user_keys),
            targeting_rules=[
                FlagRule(
                    attribute=FlagAttribute(r["attribute"]),
                    path=r.get("path"),
                    operator=FlagOperator(r["operator"]),
                    values=list(r["values"]),
                    negate=bool(r.get("negate", False)),
                )
                for r in record.rules
            ],
            rollout_percentage=record.percentage,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    # Targeting names other tenants and users: management keys only (a user token reaches a
    # flag through its decision sources, and may see that the flag applies, not whom else it targets).

    @strawberry.field(extensions=management())
    def tenant_keys(self, info: Info) -> list[str]:
        return self.targeted_tenant_keys

    @strawberry.field(extensions=management())
    def user_keys(self, info: Info) -> list[str]:
        return self.targeted_user_keys

    @strawberry.field(extensions=management())
    def rules(self, info: Info) -> list[FlagRule]:
        return self.targeting_rules

    @strawberry.field(extensions=management())
    def percentage(self, info: Info) -> int | None:
        return self.rollout_percentage

    @strawberry.field
    async def features(self, info: Info) -> list[Feature]:
        records = await info.context.loaders.flag_features_by_flag_id.load(self.pk)
        return [Feature.from_record(r) for r in records]


@strawberry.type
class FeatureFlagConnection(Connection[FeatureFlag]):
    pass
