"""Webhook types (contract §10). Secrets are never fields: only ``WebhookSecretPayload`` shows one, once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum

import strawberry

from entitle.graphql.changes.types import Change
from entitle.graphql.core.context import Info
from entitle.graphql.core.permissions import management
from entitle.graphql.core.relay import Connection, Node, load_nodes, present, to_global_id
from entitle.services import listings
from entitle.services.lookups import WebhookDeliveryRecord, WebhookEndpointRecord


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
        return await load_nodes(info.context.loaders.webhook_endpoint_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: WebhookEndpointRecord) -> WebhookEndpoint:
        return cls(
            id=to_global_id("WebhookEndpoint", record.id),
            url=record.url,
            description=record.description,
            events=list(record.events or []),
            enabled=bool(record.enabled),
            created_at=record.created_at,
            updated_at=record.updated_at,
            pk=int(record.id),
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
    record = await info.context.loaders.webhook_endpoint_by_id.load(root.endpoint_id)
    return WebhookEndpoint.from_record(present(record))


async def _delivery_change(root: WebhookDelivery, info: Info) -> Change | None:
    if root.change_id is None:
        return None
    record = await info.context.loaders.change_by_id.load(root.change_id)
    return None if record is None else Change.from_record(record)


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
        return await load_nodes(info.context.loaders.webhook_delivery_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: WebhookDeliveryRecord) -> WebhookDelivery:
        status = DeliveryStatus(record.status)
        return cls(
            id=to_global_id("WebhookDelivery", record.id),
            event_type=record.event_type,
            status=status,
            attempts=int(record.attempts),
            last_status_code=record.last_status_code,
            last_error=record.last_error,
            next_attempt_at=record.next_attempt_at if status is DeliveryStatus.PENDING else None,
            created_at=record.created_at,
            delivered_at=record.delivered_at,
            endpoint_id=int(record.endpoint_id),
            change_id=record.change_id,
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
