"""Query and Subscription fields of the change feed (contract §9): in the schema, not built yet."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from entitle.graphql.changes.types import Change as ChangeType
from entitle.graphql.changes.types import ChangeConnection, ChangeFilter, EntitlementsChangedEvent
from entitle.graphql.context import Info
from entitle.graphql.permissions import authenticated, management
from entitle.graphql.unbuilt import CHANGE_FEED, not_built


@strawberry.type
class ChangesQuery:
    @strawberry.field(extensions=authenticated(), description="The latest revision this process has applied.")
    def revision(self, info: Info) -> str:
        not_built("`revision`", CHANGE_FEED)

    @strawberry.field(extensions=management(), description="Changes, oldest first; management only.")
    def changes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ChangeFilter | None = None,
    ) -> ChangeConnection:
        not_built("`changes`", CHANGE_FEED)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The subject's effective entitlements after each change that can alter them."
    )
    async def entitlements_changed(
        self, info: Info, tenant_key: str | None = None, user_key: str | None = None
    ) -> AsyncGenerator[EntitlementsChangedEvent, None]:
        not_built("`entitlementsChanged`", CHANGE_FEED)
        yield  # pragma: no cover  # makes this an async generator

    @strawberry.subscription(description="Every change; with afterRevision, replays from there, then live.")
    async def changes(
        self, info: Info, filter: ChangeFilter | None = None
    ) -> AsyncGenerator[ChangeType, None]:
        not_built("`changes`", CHANGE_FEED)
        yield  # pragma: no cover
