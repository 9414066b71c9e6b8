"""Webhook types (contract §10). Secrets are never fields: only ``WebhookSecretPayload`` shows one, once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import strawberry

from entitle.graphql.changes.types import Change
from entitle.graphql.core.context import Info
from entitle.graphql.core.permissions import management
from entitle.graphql.core.relay import Connection, Node, load_nodes, to_global_id
from entitle.services import listings


@strawberry.enum
class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type
class WebhookEndpoint(Node):
    id: strawberry.ID
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[WebhookEndpoint | None]:
        return await load_nodes(info.context.loaders.webhook_endpoint_by_id, node_ids, cls.from_row)

    @classmethod
    def from_row(cls, row: Any) -> WebhookEndpoint:
        return cls(
            id=to_global_id("WebhookEndpoint", row.id),
            url=row.url,
            description=row.description,
            events=list(row.events or []),
            enabled=bool(row.enabled),
            created_at=row.created_at,
            updated_at=row.updated_at,
            pk=int(row.id),
        )

    @strawberry.field(extensions=management())
    async def deliveries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: list[DeliveryStatus] | None = None,
    ) -> WebhookDeliveryConnection:
        """Newest first."""
        statuses = sorted({s.value for s in status}) if status else None
        return await WebhookDeliveryConnection.resolve_children(
            listings.webhook_deliveries_of_endpoints(statuses),
            info=info,
            relation=("webhook_deliveries", tuple(statuses or ())),
            parent_id=self.pk,
            first=first,
            after=after,
            last=None,
            before=None,
        )


async def _delivery_endpoint(root: WebhookDelivery, info: Info) -> WebhookEndpoint:
    row = await info.context.loaders.webhook_endpoint_by_id.load(root.endpoint_id)
    return WebhookEndpoint.from_row(row)


async def _delivery_change(root: WebhookDelivery, info: Info) -> Change | None:
    if root.change_id is None:
        return None
    row = await info.context.loaders.change_by_id.load(root.change_id)
    return None if row is None else Change.from_row(row)


@strawberry.type
class WebhookDelivery(Node):
    id: strawberry.ID
    endpoint: WebhookEndpoint = strawberry.field(resolver=_delivery_endpoint)
    change: Change | None = strawberry.field(resolver=_delivery_change)
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    endpoint_id: strawberry.Private[int]
    change_id: strawberry.Private[int | None]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[WebhookDelivery | None]:
        return await load_nodes(info.context.loaders.webhook_delivery_by_id, node_ids, cls.from_row)

    @classmethod
    def from_row(cls, row: Any) -> WebhookDelivery:
        status = DeliveryStatus(row.status)
        return cls(
            id=to_global_id("WebhookDelivery", row.id),
            event_type=row.event_type,
            status=status,
            attempts=int(row.attempts),
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at if status is DeliveryStatus.PENDING else None,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            endpoint_id=int(row.endpoint_id),
            change_id=row.change_id,
        )


@strawberry.type
class WebhookDeliveryConnection(Connection[WebhookDelivery]):
    pass


@strawberry.type
class WebhookEndpointConnection(Connection[WebhookEndpoint]):
    pass


@strawberry.input
class WebhookEndpointInput:
    url: str
    events: list[str]
    description: str | None = None
    enabled: bool | None = None


@strawberry.type
class WebhookSecretPayload:
    endpoint: WebhookEndpoint
    secret: str
