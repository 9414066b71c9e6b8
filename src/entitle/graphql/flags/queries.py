from __future__ import annotations

import sqlalchemy as sa
import strawberry

from entitle.db.pagination import Ordering, PageArgs
from entitle.db.tables import FLAGS
from entitle.graphql.context import Info
from entitle.graphql.flags.types import FeatureFlag, FeatureFlagConnection
from entitle.graphql.inputs import KeyFilter
from entitle.graphql.pagination import to_connection
from entitle.services.listings import key_filter, list_page


@strawberry.type
class FlagsQuery:
    @strawberry.field
    async def feature_flag(self, info: Info, key: str) -> FeatureFlag | None:
        info.context.require_management()
        snapshot = await info.context.runtime.catalog.get()
        flag_id = snapshot.flag_ids_by_key.get(key)
        return None if flag_id is None else FeatureFlag.from_row(snapshot.flags[flag_id])

    @strawberry.field
    async def feature_flags(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: KeyFilter | None = None,
    ) -> FeatureFlagConnection:
        info.context.require_management()
        terms = key_filter(FLAGS, filter.keys, filter.search) if filter else []
        page, count = await list_page(
            info.context.runtime,
            sa.select(FLAGS).where(*terms),
            Ordering.by_id(FLAGS),
            PageArgs.parse(first, after, last, before),
        )
        return to_connection(FeatureFlagConnection, page, FeatureFlag.from_row, count)
