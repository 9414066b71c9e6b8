"""Query and Subscription fields of the change feed (contract §9)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from entitle.domain.changes import Change, ChangeKind, Revision
from entitle.domain.decision import AccessRequest, validate_request
from entitle.domain.errors import Forbidden, Unauthenticated
from entitle.graphql.changes.types import Change as ChangeType
from entitle.graphql.changes.types import ChangeConnection, ChangeFilter, EntitlementsChangedEvent
from entitle.graphql.core.context import Context, Info
from entitle.graphql.core.permissions import IsManagement, management
from entitle.services import listings

_SUBJECT_CATALOG_KINDS = frozenset(
    kind for kind in ChangeKind if kind.is_catalog and not kind.value.startswith("ROUTE_")
)


@strawberry.type
class ChangesQuery:
    @strawberry.field(description="The latest revision this process has applied.")
    def revision(self, info: Info) -> str:
        info.context.require_principal()
        return str(info.context.runtime.feed.position)

    @strawberry.field(description="Changes, oldest first; management only.", extensions=management())
    async def changes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: ChangeFilter | None = None,
    ) -> ChangeConnection:
        after_revision = None
        if filter is not None and filter.after_revision is not None:
            after_revision = Revision.parse(filter.after_revision, field="filter.afterRevision")
        listing = listings.changes(
            kinds=None if filter is None or filter.kinds is None else [k.value for k in filter.kinds],
            tenant_keys=None if filter is None else filter.tenant_keys,
            user_keys=None if filter is None else filter.user_keys,
            since=None if filter is None else filter.since,
            until=None if filter is None else filter.until,
            after=after_revision,
        )
        return await ChangeConnection.resolve_connection(
            listing, info=info, first=first, after=after, last=last, before=before
        )


def _subscriber(info: Info) -> Context:
    """The connection's context once its ``connection_init`` token was accepted."""
    if info.context.principal is None:
        raise Unauthenticated(
            'send {"Authorization": "Bearer <token>"} as the connection_init payload to subscribe'
        )
    return info.context


def affects(change: Change, tenant_key: str | None, user_key: str | None) -> bool:
    """Whether ``change`` can alter this subject's effective entitlements (a superset is fine)."""
    if change.kind in _SUBJECT_CATALOG_KINDS:
        return True
    if change.kind.is_catalog:
        return False
    if change.tenant_key is not None and change.tenant_key != tenant_key:
        return False
    if change.user_key is not None and change.user_key != user_key:
        return False
    return change.tenant_key is not None or change.user_key is not None


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The subject's effective entitlements after each change that can alter them."
    )
    async def entitlements_changed(
        self, info: Info, tenant_key: str | None = None, user_key: str | None = None
    ) -> AsyncGenerator[EntitlementsChangedEvent, None]:
        from entitle.graphql.core.subjects import own_subject
        from entitle.graphql.decisions.queries import render_effective

        context = _subscriber(info)
        tenant_key, user_key = own_subject(context, tenant_key, user_key)
        validate_request(tenant_key, user_key, AccessRequest(feature_key=""))
        async with context.runtime.feed.subscribe() as queue:
            while (change := await queue.get()) is not None:
                if not affects(change, tenant_key, user_key):
                    continue
                # A fresh context per event: its loaders must not serve rows cached before the change.
                fresh = Context(context.runtime, context.principal)
                effective = await render_effective(fresh, tenant_key, user_key, None)
                yield EntitlementsChangedEvent(
                    revision=str(change.revision), change=ChangeType.from_domain(change), effective=effective
                )

    @strawberry.subscription(
        description="Every committed change; with filter.afterRevision, replays from there, then live. "
        "Management only."
    )
    async def changes(
        self, info: Info, filter: ChangeFilter | None = None
    ) -> AsyncGenerator[ChangeType, None]:
        context = _subscriber(info)
        if context.principal is None or not context.principal.is_management:
            raise Forbidden(IsManagement.message)
        feed = context.runtime.feed
        start = None
        if filter is not None and filter.after_revision is not None:
            start = Revision.parse(filter.after_revision, field="filter.afterRevision")
        async with feed.subscribe() as queue:
            seen = feed.position
            if start is not None:  # replay what committed after `start`, up to where live changes begin
                async for replayed in feed.history(start, seen):
                    if _matches(replayed, filter):
                        yield ChangeType.from_domain(replayed)
            while (change := await queue.get()) is not None:
                if change.revision > seen and _matches(change, filter):
                    yield ChangeType.from_domain(change)


def _matches(change: Change, filter: ChangeFilter | None) -> bool:
    if filter is None:
        return True
    if filter.kinds is not None and change.kind not in filter.kinds:
        return False
    if filter.tenant_keys is not None and change.tenant_key not in filter.tenant_keys:
        return False
    if filter.user_keys is not None and change.user_key not in filter.user_keys:
        return False
    if filter.since is not None and change.at < filter.since:
        return False
    return filter.until is None or change.at < filter.until
