from __future__ import annotations

import strawberry

from entitle.graphql.core.context import Info
from entitle.graphql.core.inputs import KeyFilter, keyed_rows
from entitle.graphql.core.permissions import management
from entitle.graphql.flags.types import FeatureFlag, FeatureFlagConnection
from entitle.services.lookups import FLAG_ROWS


@strawberry.type
class FlagsQuery:
    @strawberry.field(extensions=management())
    async def feature_flag(self, info: Info, key: str) -> FeatureFlag | None:
        snapshot = await info.context.runtime.catalog.get()
        flag_id = snapshot.flag_ids_by_key.get(key)
        return None if flag_id is None else FeatureFlag.from_record(snapshot.flags[flag_id])

    @strawberry.field(extensions=management())
    async def feature_flags(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> FeatureFlagConnection:
        return await FeatureFlagConnection.resolve_connection(
            keyed_rows(FLAG_ROWS, filter), info=info, first=first, after=after, last=last, before=before
        )
