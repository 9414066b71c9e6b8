from __future__ import annotations

import strawberry

from entitle.graphql.core.enums import FlagAttribute, FlagOperator


@strawberry.input
class FlagRuleInput:
    attribute: FlagAttribute
    operator: FlagOperator
    values: list[str]
    path: str | None = None
    negate: bool | None = None


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


def flag_data(value: FeatureFlagInput) -> dict[str, object]:
    return {
        "key": value.key,
        "name": value.name,
        "on": value.on,
        "feature_keys": value.feature_keys,
        "description": value.description,
        "tenant_keys": value.tenant_keys,
        "user_keys": value.user_keys,
        "rules": [
            {
                "attribute": r.attribute,
                "operator": r.operator,
                "values": r.values,
                "path": r.path,
                "negate": r.negate,
            }
            for r in value.rules or []
        ],
        "percentage": value.percentage,
    }
