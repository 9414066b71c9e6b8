"""GraphQL types of feature flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from entitle.graphql.catalog.types import Feature
from entitle.graphql.context import Info
from entitle.graphql.enums import FlagAttribute, FlagOperator
from entitle.graphql.node import Node, to_global_id
from entitle.graphql.pagination import Connection


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
    tenant_keys: list[str]
    user_keys: list[str]
    rules: list[FlagRule]
    percentage: int | None
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> FeatureFlag:
        return cls(
            id=to_global_id("FeatureFlag", row.id),
            pk=row.id,
            key=row.key,
            name=row.name,
            description=row.description,
            on=row.on,
            tenant_keys=list(row.tenant_keys),
            user_keys=list(row.user_keys),
            rules=[
                FlagRule(
                    attribute=FlagAttribute(r["attribute"]),
                    path=r.get("path"),
                    operator=FlagOperator(r["operator"]),
                    values=list(r["values"]),
                    negate=bool(r.get("negate", False)),
                )
                for r in row.rules
            ],
            percentage=row.percentage,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field
    async def features(self, info: Info) -> list[Feature]:
        rows = await info.context.loaders.flag_features_by_flag_id.load(self.pk)
        return [Feature.from_row(r) for r in rows]


@strawberry.type
class FeatureFlagConnection(Connection[FeatureFlag]):
    pass
