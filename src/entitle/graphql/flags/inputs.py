from __future__ import annotations

import strawberry

from entitle.graphql.core.enums import FlagAttribute, FlagOperator
from entitle.services.flags_routes import FlagDefinition, FlagRuleDefinition


@strawberry.input
class FlagRuleInput:
    attribute: FlagAttribute
    operator: FlagOperator
    values: list[str]
    path: str | None = None
    negate: bool | None = None

    def to_command(self) -> FlagRuleDefinition:
        return FlagRuleDefinition(self.attribute, self.operator, self.values, self.path, self.negate)


@strawberry.input
class FeatureFlagInput:
    key: str
    name: str
    on: bool
    feature_keys: list[str]
    description: str | None = None
    tenant_keys: list[str] | None = None
    user_keys: list[str] | None = None
    rules: list[FlagRuleInput] | None = None
    percentage: int | None = None

    def to_command(self) -> FlagDefinition:
        return FlagDefinition(
            key=self.key,
            name=self.name,
            on=self.on,
            feature_keys=self.feature_keys,
            description=self.description,
            tenant_keys=self.tenant_keys,
            user_keys=self.user_keys,
            rules=[r.to_command() for r in self.rules or []],
            percentage=self.percentage,
        )
