from __future__ import annotations

import strawberry

from entitle.graphql.core.consistency import reach
from entitle.graphql.core.context import Info
from entitle.graphql.core.entitlement_listing import EntitlementFilter, EntitlementOrder, list_entitlements
from entitle.graphql.entitlements.types import EntitlementConnection


@strawberry.type
class EntitlementsQuery:
    @strawberry.field(
        description="Management keys see all; a user token sees what applies to its own subject."
    )
    async def entitlements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: EntitlementFilter | None = None,
        order_by: EntitlementOrder | None = None,
        min_revision: str | None = None,
    ) -> EntitlementConnection:
        await reach(info, min_revision)
        connection = await list_entitlements(info, first, after, last, before, filter, order_by)
        assert isinstance(connection, EntitlementConnection)
        return connection
