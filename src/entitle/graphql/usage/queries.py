"""Usage history (contract §11): ``usage`` (a subject's periods) and ``usageRecords`` (every consumption)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.graphql.core.context import Info
from entitle.graphql.core.permissions import authenticated, management
from entitle.graphql.core.subjects import own_subject
from entitle.graphql.usage.types import UsagePeriod, UsageRecordConnection, UsageRecordFilter
from entitle.services import listings
from entitle.services.usage_history import UsageHistoryRequest


@strawberry.type
class UsageQuery:
    @strawberry.field(
        extensions=authenticated(),
        description="The subject's current usage period and the `periods - 1` before it, newest first "
        "(a user token: its own subject only).",
    )
    async def usage(
        self,
        info: Info,
        feature_key: str,
        tenant_key: str | None = None,
        user_key: str | None = None,
        periods: int | None = 1,
        at: datetime | None = None,
    ) -> list[UsagePeriod]:
        tenant_key, user_key = own_subject(info.context, tenant_key, user_key)
        wanted = 1 if periods is None else periods
        request = UsageHistoryRequest(tenant_key, user_key, feature_key, wanted, at)
        views = await info.context.runtime.usage_history.periods(request)
        return [UsagePeriod.from_view(v) for v in views]

    @strawberry.field(
        extensions=management(),
        description="Every reportUsage/commitUsage applied or refused, newest first; management only.",
    )
    async def usage_records(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: UsageRecordFilter | None = None,
    ) -> UsageRecordConnection:
        given = filter or UsageRecordFilter()
        listing = listings.usage_records(
            tenant_keys=given.tenant_keys,
            user_keys=given.user_keys,
            feature_keys=given.feature_keys,
            since=given.since,
            until=given.until,
        )
        return await UsageRecordConnection.resolve_connection(
            listing, info=info, first=first, after=after, last=last, before=before
        )
