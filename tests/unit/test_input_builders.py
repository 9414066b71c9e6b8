"""Input objects made only of scalars are built in one constructor call (graphql/input_builders.py): the
same object strawberry's own field-by-field conversion builds, and only for such input types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from strawberry.types.arguments import convert_argument

from entitle.graphql.entitlements.inputs import CreateEntitlementInput
from entitle.graphql.schema import build_schema
from entitle.graphql.subjects.inputs import TenantInput, UserInput

SCHEMA = build_schema()

CASES: list[tuple[type, dict[str, Any]]] = [
    (
        CreateEntitlementInput,
        {"planKey": "pro", "tenantKey": "acme", "startDate": datetime(2030, 1, 1, tzinfo=UTC)},
    ),
    (
        CreateEntitlementInput,
        {"featureKey": "seats", "value": {"n": [1, 2]}, "userKey": "bob", "metadata": None},
    ),
    (TenantInput, {"key": "acme"}),
    (TenantInput, {"key": "acme", "name": None, "metadata": {"tier": "gold"}}),
    (UserInput, {"key": "bob", "tenantKeys": ["acme", "globex"], "email": "b@x.test"}),
]


@pytest.mark.parametrize(("cls", "value"), CASES)
def test_a_scalar_input_is_built_as_strawberry_builds_it(cls: type, value: dict[str, Any]) -> None:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    registry = SCHEMA.schema_converter.scalar_registry
    built = convert_argument(value, cls, registry, SCHEMA.config)
    builder = definition.from_input
    assert builder is not None
    try:
        definition.from_input = None  # strawberry's own conversion, for comparison
        expected = convert_argument(value, cls, registry, SCHEMA.config)
    finally:
        definition.from_input = builder
    assert built == expected
    if isinstance(value.get("tenantKeys"), list):
        assert built.tenant_keys is not value["tenantKeys"]  # copied, as strawberry copies lists


def test_only_inputs_made_of_scalars_get_a_builder() -> None:
    with_builder = {
        t.name
        for t in SCHEMA._schema.type_map.values()
        if getattr((getattr(t, "extensions", None) or {}).get("strawberry-definition"), "from_input", None)
    }
    assert {"CreateEntitlementInput", "TenantInput", "UserInput", "RouteInput"} <= with_builder
    assert "CreateFeatureInput" not in with_builder  # its `type` is an enum: strawberry converts it
