"""Webhook management fields (contract §10); management only."""

from __future__ import annotations

import strawberry

from entitle.db.pagination import Ordering
from entitle.db.repositories import webhooks as repo
from entitle.db.tables import WEBHOOK_ENDPOINTS
from entitle.graphql.catalog.mutations import DeletePayload
from entitle.graphql.context import Info
from entitle.graphql.node import pk_of, to_global_id
from entitle.graphql.pagination import paged
from entitle.graphql.webhooks.types import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointConnection,
    WebhookEndpointInput,
    WebhookSecretPayload,
)
from entitle.services import webhooks
from entitle.services.webhooks import EndpointInput


def _input(value: WebhookEndpointInput) -> EndpointInput:
    return EndpointInput(
        url=value.url, events=list(value.events), description=value.description, enabled=value.enabled
    )


@strawberry.type
class WebhooksQuery:
    @strawberry.field
    async def webhook_endpoints(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> WebhookEndpointConnection:
        info.context.require_management()
        return await paged(
            info,
            WebhookEndpointConnection,
            WebhookEndpoint.from_row,
            repo.endpoints_statement(),
            Ordering.by_id(WEBHOOK_ENDPOINTS),
            first,
            after,
            last,
            before,
        )


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation
    async def create_webhook_endpoint(self, info: Info, input: WebhookEndpointInput) -> WebhookSecretPayload:
        info.context.require_writer()
        row, secret = await webhooks.create_endpoint(info.context.runtime, _input(input))
        return WebhookSecretPayload(endpoint=WebhookEndpoint.from_row(row), secret=secret)

    @strawberry.mutation
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: WebhookEndpointInput
    ) -> WebhookEndpoint:
        info.context.require_writer()
        row = await webhooks.update_endpoint(
            info.context.runtime, pk_of(id, "WebhookEndpoint"), _input(input)
        )
        return WebhookEndpoint.from_row(row)

    @strawberry.mutation
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> DeletePayload:
        info.context.require_writer()
        deleted = await webhooks.delete_endpoint(info.context.runtime, pk_of(id, "WebhookEndpoint"))
        return DeletePayload(deleted_id=to_global_id("WebhookEndpoint", deleted))

    @strawberry.mutation
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookSecretPayload:
        info.context.require_writer()
        row, secret = await webhooks.rotate_secret(info.context.runtime, pk_of(id, "WebhookEndpoint"))
        return WebhookSecretPayload(endpoint=WebhookEndpoint.from_row(row), secret=secret)

    @strawberry.mutation
    async def redeliver_webhook(self, info: Info, delivery_id: strawberry.ID) -> WebhookDelivery:
        info.context.require_writer()
        pk = pk_of(delivery_id, "WebhookDelivery", field="deliveryId")
        row = await webhooks.redeliver(info.context.runtime, pk)
        _wake(info)
        return WebhookDelivery.from_row(row)

    @strawberry.mutation
    async def send_test_webhook(self, info: Info, endpoint_id: strawberry.ID) -> WebhookDelivery:
        info.context.require_writer()
        pk = pk_of(endpoint_id, "WebhookEndpoint", field="endpointId")
        row = await webhooks.send_test(info.context.runtime, pk, endpoint_id)
        _wake(info)
        return WebhookDelivery.from_row(row)


def _wake(info: Info) -> None:
    worker = info.context.runtime.webhooks
    if worker is not None:
        worker.wake()
