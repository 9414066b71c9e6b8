from __future__ import annotations

import strawberry

from entitle.graphql.core.scalars import JSON


@strawberry.input
class TenantInput:
    key: str
    name: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.input
class UserInput:
    key: str
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    tenant_keys: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Memberships to add (existing ones are kept)."
    )
