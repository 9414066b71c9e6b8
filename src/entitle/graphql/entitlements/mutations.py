from __future__ import annotations

import strawberry

from entitle.domain.text import shown
from entitle.graphql.core.batches import BatchItemError
from entitle.graphql.core.context import Info
from entitle.graphql.core.permissions import writer
from entitle.graphql.core.relay import from_global_id
from entitle.graphql.entitlements.inputs import CreateEntitlementInput, UpdateEntitlementInput
from entitle.graphql.entitlements.types import Entitlement
from entitle.services import entitlements
from entitle.services.batches import ItemError
from entitle.services.entitlements import CreateEntitlements


@strawberry.type
class BatchEntitlementsPayload:
    entitlements: list[Entitlement]
    errors: list[BatchItemError]


@strawberry.type
class RevokePayload:
    revoked_count: int
    errors: list[BatchItemError]


def _entitlement_pk(global_id: str) -> int | None:
    """The entitlement's primary key, or None when the id names another type (then: NOT_FOUND)."""
    type_name, pk = from_global_id(global_id)
    return pk if type_name == "Entitlement" else None


@strawberry.type
class EntitlementsMutation:
    @strawberry.mutation(extensions=writer())
    async def create_entitlement(self, info: Info, input: CreateEntitlementInput) -> Entitlement:
        return Entitlement.from_record(
            await entitlements.create_entitlement(info.context.runtime, input.to_command())
        )

    @strawberry.mutation(
        extensions=writer(),
        description="All items are validated first; atomic (default) writes all or none. "
        "A retry with the same idempotencyKey writes nothing and returns the first result.",
    )
    async def batch_create_entitlements(
        self,
        info: Info,
        input: list[CreateEntitlementInput],
        atomic: bool | None = True,
        idempotency_key: str | None = None,
    ) -> BatchEntitlementsPayload:
        command = CreateEntitlements(
            [i.to_command() for i in input], atomic=atomic is not False, idempotency_key=idempotency_key
        )
        created = await entitlements.batch_create(info.context.runtime, command)
        rows = created.rows
        if created.replayed_ids is not None:
            rows = [
                r for r in await info.context.loaders.entitlement_by_id.load_many(created.replayed_ids) if r
            ]
        return BatchEntitlementsPayload(
            entitlements=[Entitlement.from_record(r) for r in rows],
            errors=[BatchItemError.of(e) for e in created.errors],
        )

    @strawberry.mutation(extensions=writer())
    async def update_entitlement(
        self, info: Info, id: strawberry.ID, input: UpdateEntitlementInput
    ) -> Entitlement:
        row = await entitlements.update_entitlement(
            info.context.runtime, _entitlement_pk(id), input.to_command()
        )
        return Entitlement.from_record(row)

    @strawberry.mutation(
        extensions=writer(),
        description="Revokes every known id (history is kept) and reports each unknown one.",
    )
    async def revoke_entitlements(self, info: Info, ids: list[strawberry.ID]) -> RevokePayload:
        pks: list[int | None] = []
        bad: list[ItemError] = []
        for index, global_id in enumerate(ids):
            try:
                pks.append(_entitlement_pk(global_id))
            except Exception:
                pks.append(None)
                bad.append(ItemError(index, "BAD_USER_INPUT", f"{shown(global_id)} is not a valid id", "ids"))
        count, errors = await entitlements.revoke(info.context.runtime, pks)
        bad_indexes = {e.index for e in bad}
        merged = sorted([*bad, *(e for e in errors if e.index not in bad_indexes)], key=lambda e: e.index)
        return RevokePayload(revoked_count=count, errors=[BatchItemError.of(e) for e in merged])
