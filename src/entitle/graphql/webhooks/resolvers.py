"""Webhook management fields (contract §10): in the schema, not built yet; management only."""

from __future__ import annotations

import strawberry

from entitle.graphql.context import Info
from entitle.graphql.payloads import DeletePayload
from entitle.graphql.permissions import management, writer
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
    @strawberry.field(extensions=management())
    def webhook_endpoints(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> WebhookEndpointConnection:
        not_built("`webhookEndpoints`", WEBHOOKS)


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(extensions=writer())
    def create_webhook_endpoint(self, info: Info, input: WebhookEndpointInput) -> WebhookSecretPayload:
        not_built("`createWebhookEndpoint`", WEBHOOKS)

    @strawberry.mutation(extensions=writer())
    def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: WebhookEndpointInput
    ) -> WebhookEndpoint:
        not_built("`updateWebhookEndpoint`", WEBHOOKS)

    @strawberry.mutation(extensions=writer())
    def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> DeletePayload:
        not_built("`deleteWebhookEndpoint`", WEBHOOKS)

    @strawberry.mutation(extensions=writer())
    def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookSecretPayload:
        not_built("`rotateWebhookSecret`", WEBHOOKS)

    @strawberry.mutation(extensions=writer())
    def redeliver_webhook(self, info: Info, delivery_id: strawberry.ID) -> WebhookDelivery:
        not_built("`redeliverWebhook`", WEBHOOKS)

    @strawberry.mutation(extensions=writer())
    def send_test_webhook(self, info: Info, endpoint_id: strawberry.ID) -> WebhookDelivery:
        not_built("`sendTestWebhook`", WEBHOOKS)
