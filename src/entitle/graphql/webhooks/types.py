"""Webhook types (contract §10): in the schema, not built yet (see graphql/unbuilt.py)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry

from entitle.graphql.changes.types import Change
from entitle.graphql.context import Info
from entitle.graphql.node import Node
from entitle.graphql.pagination import Connection
from entitle.graphql.unbuilt import WEBHOOKS, not_built


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

    @strawberry.field
    def deliveries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: list[DeliveryStatus] | None = None,
    ) -> WebhookDeliveryConnection:
        not_built("`WebhookEndpoint.deliveries`", WEBHOOKS)


@strawberry.type
class WebhookDelivery(Node):
    id: strawberry.ID
    endpoint: WebhookEndpoint
    change: Change | None
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


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
