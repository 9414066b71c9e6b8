"""Webhook management fields (contract §10): in the schema, not built yet; management only."""

from __future__ import annotations

import strawberry

from entitle.graphql.catalog.mutations import DeletePayload
from entitle.graphql.context import Info
from entitle.graphql.unbuilt import WEBHOOKS, not_built
from entitle.graphql.webhooks.types import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointConnection,
    WebhookEndpointInput,
    WebhookSecretPayload,
)


@strawberry.type
class WebhooksQuery:
    @strawberry.field
    def webhook_endpoints(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> WebhookEndpointConnection:
        info.context.require_management()
        not_built("`webhookEndpoints`", WEBHOOKS)


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation
    def create_webhook_endpoint(self, info: Info, input: WebhookEndpointInput) -> WebhookSecretPayload:
        info.context.require_writer()
        not_built("`createWebhookEndpoint`", WEBHOOKS)

    @strawberry.mutation
    def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: WebhookEndpointInput
    ) -> WebhookEndpoint:
        info.context.require_writer()
        not_built("`updateWebhookEndpoint`", WEBHOOKS)

    @strawberry.mutation
    def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> DeletePayload:
        info.context.require_writer()
        not_built("`deleteWebhookEndpoint`", WEBHOOKS)

    @strawberry.mutation
    def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookSecretPayload:
        info.context.require_writer()
        not_built("`rotateWebhookSecret`", WEBHOOKS)

    @strawberry.mutation
    def redeliver_webhook(self, info: Info, delivery_id: strawberry.ID) -> WebhookDelivery:
        info.context.require_writer()
        not_built("`redeliverWebhook`", WEBHOOKS)

    @strawberry.mutation
    def send_test_webhook(self, info: Info, endpoint_id: strawberry.ID) -> WebhookDelivery:
        info.context.require_writer()
        not_built("`sendTestWebhook`", WEBHOOKS)
