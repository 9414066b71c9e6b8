"""Webhook endpoint management and delivery requests (contract §10); the sending is in
``services/background/webhooks.py``. Management writes append no change (no ``extensions.revision``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from entitle.clock import now
from entitle.db.repositories import webhooks as repo
from entitle.db.repositories.webhooks import EndpointSettings, WebhookDeliveryRecord, WebhookEndpointRecord
from entitle.domain.errors import BadUserInput, Conflict, NotFound
from entitle.domain.webhooks import (
    MAX_DESCRIPTION,
    ROTATION_OVERLAP,
    TEST_EVENT,
    check_events,
    check_url_shape,
    new_secret,
    test_body,
)
from entitle.services.webhook_destinations import destination_refusal

if TYPE_CHECKING:
    from entitle.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class EndpointInput:
    url: str
    events: list[str]
    description: str | None = None
    enabled: bool | None = None


async def _checked(runtime: Runtime, data: EndpointInput) -> EndpointSettings:
    url = data.url.strip()
    check_url_shape(url)
    events = check_events(data.events)
    if data.description is not None and len(data.description) > MAX_DESCRIPTION:
        raise BadUserInput(
            f"the description is longer than {MAX_DESCRIPTION} characters", field="input.description"
        )
    refusal = await destination_refusal(url, runtime.settings.entitle_webhook_allow_private)
    if refusal is not None:
        raise BadUserInput(f"this URL may not receive webhooks: {refusal}", field="input.url")
    enabled = True if data.enabled is None else data.enabled
    return EndpointSettings(url=url, events=events, description=data.description, enabled=enabled)


async def create_endpoint(runtime: Runtime, data: EndpointInput) -> tuple[WebhookEndpointRecord, str]:
    settings = await _checked(runtime, data)
    secret = new_secret()
    async with runtime.write() as session:
        await repo.start_cursor(session)
        row = await repo.insert_endpoint(session, settings, secret, now())
    return row, secret


async def update_endpoint(
    runtime: Runtime, endpoint_id: int | None, data: EndpointInput
) -> WebhookEndpointRecord:
    settings = await _checked(runtime, data)
    async with runtime.write() as session:
        row = None
        if endpoint_id is not None:
            row = await repo.update_endpoint(session, endpoint_id, settings, now())
        if row is None:
            raise NotFound("no webhook endpoint with this id", field="id")
    return row


async def delete_endpoint(runtime: Runtime, endpoint_id: int | None) -> int:
    async with runtime.write() as session:
        deleted = None if endpoint_id is None else await repo.delete_endpoint(session, endpoint_id)
        if deleted is None:
            raise NotFound("no webhook endpoint with this id", field="id")
    return deleted


async def rotate_secret(runtime: Runtime, endpoint_id: int | None) -> tuple[WebhookEndpointRecord, str]:
    """A new secret signs from now on; the previous one also signs for 24 hours."""
    secret = new_secret()
    at = now()
    async with runtime.write() as session:
        current = None if endpoint_id is None else await repo.endpoint_by_id(session, endpoint_id)
        if current is None or endpoint_id is None:
            raise NotFound("no webhook endpoint with this id", field="id")
        row = await repo.rotate_secret(
            session, endpoint_id, secret, current.secret, at + ROTATION_OVERLAP, at
        )
        if row is None:  # deleted meanwhile
            raise NotFound("no webhook endpoint with this id", field="id")
    return row, secret


def _retry_until(runtime: Runtime) -> datetime:
    return now() + timedelta(seconds=runtime.settings.entitle_webhook_retry_window_s)


async def redeliver(runtime: Runtime, delivery_id: int | None) -> WebhookDeliveryRecord:
    async with runtime.write() as session:
        row = None
        if delivery_id is not None:
            row = await repo.redeliver(session, delivery_id, now(), _retry_until(runtime))
        if row is None:
            raise NotFound("no webhook delivery with this id", field="deliveryId")
    return row


async def send_test(
    runtime: Runtime, endpoint_id: int | None, endpoint_global_id: str
) -> WebhookDeliveryRecord:
    at = now()
    async with runtime.write() as session:
        endpoint = None if endpoint_id is None else await repo.endpoint_by_id(session, endpoint_id)
        if endpoint is None:
            raise NotFound("no webhook endpoint with this id", field="endpointId")
        if not endpoint.enabled:
            raise Conflict("this webhook endpoint is disabled: enable it to send a test", field="endpointId")
        row = await repo.insert_delivery(
            session, endpoint.id, TEST_EVENT, test_body(endpoint_global_id, at), at, _retry_until(runtime)
        )
    return row
