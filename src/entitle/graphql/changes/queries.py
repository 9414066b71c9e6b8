"""Query and Subscription fields of the change feed (contract §9): in the schema, not built yet."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from entitle.domain.changes import Revision
from entitle.domain.errors import Unavailable
from entitle.graphql.changes.types import Change as ChangeType
from entitle.graphql.changes.types import ChangeConnection, ChangeFilter, EntitlementsChangedEvent
from entitle.graphql.context import Info
from entitle.graphql.unbuilt import CHANGE_FEED, not_built


@strawberry.type
class ChangesQuery:
    @strawberry.field(description="The latest revision this process has applied.")
    def revision(self, info: Info) -> str:
        info.context.require_principal()
        return str(info.context.runtime.feed.position)

    @strawberry.field(description="Changes, oldest first; management only.")
    def changes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ChangeFilter | None = None,
    ) -> ChangeConnection:
        info.context.require_management()
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


MIN_REVISION_WAIT_S = 5.0


async def reach(info: Info, min_revision: str | None) -> None:
    """Wait until this process has applied ``min_revision`` (a mutation's ``extensions.revision``), so
    the answer reflects that write whichever worker or replica made it (contract §9)."""
    if min_revision is None:
        return
    revision = Revision.parse(min_revision)
    if not await info.context.runtime.feed.wait_for(revision, MIN_REVISION_WAIT_S):
        raise Unavailable(
            f"this server has not reached revision {min_revision} yet; retry", field="minRevision"
        )
