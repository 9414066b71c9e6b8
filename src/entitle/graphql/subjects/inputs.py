from __future__ import annotations

import strawberry

from entitle.domain.subjects import TenantFields, UserFields
from entitle.graphql.core.inputs import omittable, omittable_json
from entitle.graphql.core.scalars import JSON


@strawberry.input
class TenantInput:
    key: str
    name: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET

    def to_command(self) -> TenantFields:
        return TenantFields(self.key, name=omittable(self.name), metadata=omittable_json(self.metadata))


@strawberry.input
class UserInput:
    key: str
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET
    tenant_keys: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Memberships to add (existing ones are kept)."
    )

    def to_command(self) -> UserFields:
        return UserFields(
            self.key,
            name=omittable(self.name),
            email=omittable(self.email),
            metadata=omittable_json(self.metadata),
            tenant_keys=omittable(self.tenant_keys),
        )
