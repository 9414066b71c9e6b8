from __future__ import annotations

import strawberry

from entitle.graphql.core.batches import BatchItemError
from entitle.graphql.core.context import Info
from entitle.graphql.core.permissions import writer
from entitle.graphql.core.relay import present
from entitle.graphql.subjects.inputs import TenantInput, UserInput
from entitle.graphql.subjects.types import Tenant, User
from entitle.services import subjects


async def _upserted_tenants(root: BatchTenantsPayload, info: Info) -> list[Tenant]:
    """Read back only when asked for: a burst of upserts that select ``errors`` reads nothing."""
    records = await info.context.loaders.tenant_by_id.load_many(root.ids)
    return [Tenant.from_record(present(r)) for r in records]


@strawberry.type
class BatchTenantsPayload:
    tenants: list[Tenant] = strawberry.field(resolver=_upserted_tenants)
    errors: list[BatchItemError]
    ids: strawberry.Private[list[int]]


@strawberry.type
class BatchUsersPayload:
    users: list[User]
    errors: list[BatchItemError]


@strawberry.type
class SubjectsMutation:
    @strawberry.mutation(
        extensions=writer(), description="Create or update tenants by key; omitted fields keep their value."
    )
    async def upsert_tenants(
        self, info: Info, input: list[TenantInput], atomic: bool | None = True
    ) -> BatchTenantsPayload:
        command = subjects.UpsertTenants([i.to_command() for i in input], atomic=atomic is not False)
        outcome = await subjects.upsert_tenants(info.context.runtime, command)
        return BatchTenantsPayload(errors=[BatchItemError.of(e) for e in outcome.errors], ids=outcome.ids)

    @strawberry.mutation(
        extensions=writer(), description="Create or update users by key; tenantKeys adds memberships."
    )
    async def upsert_users(
        self, info: Info, input: list[UserInput], atomic: bool | None = True
    ) -> BatchUsersPayload:
        command = subjects.UpsertUsers([i.to_command() for i in input], atomic=atomic is not False)
        outcome = await subjects.upsert_users(info.context.runtime, command)
        records = await info.context.loaders.user_by_id.load_many(outcome.ids)
        return BatchUsersPayload(
            users=[User.from_record(present(r)) for r in records],
            errors=[BatchItemError.of(e) for e in outcome.errors],
        )

    @strawberry.mutation(extensions=writer())
    async def add_members(self, info: Info, tenant_key: str, user_keys: list[str]) -> Tenant:
        return Tenant.from_record(await subjects.add_members(info.context.runtime, tenant_key, user_keys))

    @strawberry.mutation(extensions=writer())
    async def remove_members(self, info: Info, tenant_key: str, user_keys: list[str]) -> Tenant:
        return Tenant.from_record(await subjects.remove_members(info.context.runtime, tenant_key, user_keys))
