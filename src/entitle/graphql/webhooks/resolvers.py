"""Webhook management fields (contract §10); management only."""

from __future__ import annotations

import strawberry

from entitle.graphql.core.context import Info
from entitle.graphql.core.payloads import DeletePayload
from entitle.graphql.core.permissions import management, writer
from entitle.graphql.core.relay import pk_of, to_global_id
from entitle.graphql.webhooks.types import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointConnection,
    WebhookEndpointInput,
    WebhookSecretPayload,
)
from entitle.services import listings, webhooks
from entitle.services.webhooks import EndpointInput


def _input(value: WebhookEndpointInput) -> EndpointInput:
    return EndpointInput(
        url=value.url, events=list(value.events), description=value.description, enabled=value.enabled
    )


@strawberry.type
class WebhooksQuery:
    @strawberry.field(extensions=management())
    async def webhook_endpoints(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> WebhookEndpointConnection:
        return await WebhookEndpointConnection.resolve_connection(
            listings.webhook_endpoints(), info=info, first=first, after=after, last=last, before=before
        )


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(extensions=writer())
    async def create_webhook_endpoint(self, info: Info, input: WebhookEndpointInput) -> WebhookSecretPayload:
        row, secret = await webhooks.create_endpoint(info.context.runtime, _input(input))
        return WebhookSecretPayload(endpoint=WebhookEndpoint.from_record(row), secret=secret)

    @strawberry.mutation(extensions=writer())
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: WebhookEndpointInput
    ) -> WebhookEndpoint:
        row = await webhooks.update_endpoint(
            info.context.runtime, pk_of(id, "WebhookEndpoint"), _input(input)
        )
        return WebhookEndpoint.from_record(row)

    @strawberry.mutation(extensions=writer())
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> DeletePayload:
        deleted = await webhooks.delete_endpoint(info.context.runtime, pk_of(id, "WebhookEndpoint"))
        return DeletePayload(deleted_id=to_global_id("WebhookEndpoint", deleted))

    @strawberry.mutation(extensions=writer())
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookSecretPayload:
        row, secret = await webhooks.rotate_secret(info.context.runtime, pk_of(id, "WebhookEndpoint"))
        return WebhookSecretPayload(endpoint=WebhookEndpoint.from_record(row), secret=secret)

    @strawberry.mutation(extensions=writer())
    async def redeliver_webhook(self, info: Info, delivery_id: strawberry.ID) -> WebhookDelivery:
        pk = pk_of(delivery_id, "WebhookDelivery", field="deliveryId")
        row = await webhooks.redeliver(info.context.runtime, pk)
        _wake(info)
        return WebhookDelivery.from_record(row)

    @strawberry.mutation(extensions=writer())
    async def send_test_webhook(self, info: Info, endpoint_id: strawberry.ID) -> WebhookDelivery:
        pk = pk_of(endpoint_id, "WebhookEndpoint", field="endpointId")
        row = await webhooks.send_test(info.context.runtime, pk, endpoint_id)
        _wake(info)
        return WebhookDelivery.from_record(row)


def _wake(info: Info) -> None:
    worker = info.context.runtime.webhooks
    if worker is not None:
        worker.wake()
