"""``decisionLog`` (contract §12): recorded ``isEntitledTo`` decisions, newest first; management only.

What is recorded depends on ``ENTITLE_DECISION_LOG`` (``off``: nothing, ``denied``, ``all``); the
writer is ``services.background.decision_log``. ``record_decision`` is the one call the resolver makes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import strawberry

from entitle.domain.decision import AccessRequest, Decision
from entitle.graphql.core.context import Context, Info
from entitle.graphql.core.enums import Justification
from entitle.graphql.core.permissions import management
from entitle.graphql.core.relay import Connection, Node, load_nodes, to_global_id
from entitle.services import listings
from entitle.services.lookups import DecisionLogRecord


def record_decision(
    context: Context, tenant_key: str | None, user_key: str | None, request: AccessRequest, decision: Decision
) -> None:
    """Queue the decision for the decision log when it is on (no I/O; never delays the answer)."""
    log = context.runtime.decision_log
    if log is not None and context.principal is not None:
        log.record(tenant_key, user_key, request, decision, context.principal.actor)


@strawberry.type(description="The route a decision was asked about.")
class RequestedRoute:
    method: str
    path: str


@strawberry.type(description="One recorded isEntitledTo decision (ENTITLE_DECISION_LOG).")
class DecisionLogEntry(Node):
    id: strawberry.ID
    at: datetime = strawberry.field(description="When the decision was made.")
    tenant_key: str | None
    user_key: str | None
    feature_key: str | None
    permission_key: str | None
    route: RequestedRoute | None
    is_entitled: bool
    justification: Justification | None
    usage: int | None
    actor: str = strawberry.field(description="The API key's name, or user:<userKey> for a user token.")

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[DecisionLogEntry | None]:
        return await load_nodes(info.context.loaders.decision_log_entry_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: DecisionLogRecord) -> DecisionLogEntry:
        route = None
        if record.route_method is not None and record.route_path is not None:
            route = RequestedRoute(method=record.route_method, path=record.route_path)
        return cls(
            id=to_global_id("DecisionLogEntry", record.id),
            at=record.at,
            tenant_key=record.tenant_key,
            user_key=record.user_key,
            feature_key=record.feature_key,
            permission_key=record.permission_key,
            route=route,
            is_entitled=record.is_entitled,
            justification=Justification(record.justification) if record.justification else None,
            usage=record.usage,
            actor=record.actor,
        )


@strawberry.input
class DecisionLogFilter:
    tenant_keys: list[str] | None = None
    user_keys: list[str] | None = None
    feature_keys: list[str] | None = None
    justifications: list[Justification] | None = None
    is_entitled: bool | None = None
    since: datetime | None = strawberry.field(default=None, description="Inclusive.")
    until: datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.type
class DecisionLogConnection(Connection[DecisionLogEntry]):
    pass


@strawberry.type
class DecisionLogQuery:
    @strawberry.field(
        description="Recorded decisions, newest first (ENTITLE_DECISION_LOG); management only.",
        extensions=management(),
    )
    async def decision_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: DecisionLogFilter | None = None,
    ) -> DecisionLogConnection:
        f = filter or DecisionLogFilter()
        listing = listings.decision_log_entries(
            tenant_keys=f.tenant_keys,
            user_keys=f.user_keys,
            feature_keys=f.feature_keys,
            justifications=None if f.justifications is None else [j.value for j in f.justifications],
            is_entitled=f.is_entitled,
            since=f.since,
            until=f.until,
        )
        return await DecisionLogConnection.resolve_connection(
            listing, info=info, first=first, after=after, last=last, before=before
        )
