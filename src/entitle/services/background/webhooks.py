"""The webhook delivery worker: one per process, started with the app (``ENTITLE_WEBHOOKS=false``: off).

Each turn (a poll every ``ENTITLE_WEBHOOK_POLL_MS``, or on a PostgreSQL change notification, at most
one turn every ``MIN_TURN_GAP_S`` so a burst of writes wakes it a few times, not once per commit):

1. **Fan-out**: changes committed after the cursor become delivery rows (repositories/webhooks.py),
   one process at a time, in the transaction that moves the cursor. While notifications arrive, the
   feed is looked at only after one (or every ``IDLE_FAN_OUT_S`` in case a change was held back).
2. **Dispatch**: every enabled endpoint whose oldest pending delivery is due and unleased gets a
   drain task, up to ``ENTITLE_WEBHOOK_CONCURRENCY`` tasks. A task leases the due head of its
   endpoint's queue (up to ``BATCH`` deliveries) and sends them one after another, in order: each
   endpoint has at most one request in flight, so one slow or failing endpoint holds one slot and
   never delays the others. A failed attempt is retried with exponential backoff and jitter
   (``domain.webhooks.retry_delay``); the endpoint's later deliveries wait behind it, in order.

Delivered outcomes are written in small groups; a process killed before writing them sends them again
after its lease runs out (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx

from entitle.clock import now
from entitle.db.engine import Database
from entitle.db.feed import DatabaseFeedSource
from entitle.db.repositories import webhooks as repo
from entitle.db.repositories.webhooks import ClaimedDelivery, WebhookEndpointRecord
from entitle.domain.webhooks import DeliveryStatus, event_body, retry_delay, signature
from entitle.metrics import record_webhook_delivery
from entitle.services.outages import DatabaseHealth, unavailable_reason
from entitle.services.webhook_destinations import destination_refusal
from entitle.settings import Settings

log = logging.getLogger(__name__)


class WebhookWorker:
    BATCH = 100
    """Deliveries leased at once from one endpoint's queue."""
    FLUSH_EVERY = 50
    FLUSH_S = 0.25
    """Delivered outcomes are written at least this often (and every ``FLUSH_EVERY`` deliveries)."""
    MAX_RESPONSE_BYTES = 64 * 1024
    MIN_TURN_GAP_S = 0.05
    IDLE_FAN_OUT_S = 1.0

    def __init__(self, database: Database, settings: Settings, health: DatabaseHealth | None = None) -> None:
        self._database = database
        self._settings = settings
        self._health = health or DatabaseHealth()
        self._timeout_s = settings.entitle_webhook_timeout_s
        self._lease = timedelta(seconds=max(settings.entitle_webhook_lease_s, self._timeout_s + 2))
        self._retry_window = timedelta(seconds=settings.entitle_webhook_retry_window_s)
        self._cap = settings.entitle_webhook_concurrency
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._active: dict[int, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None
        self._listening: contextlib.AsyncExitStack | None = None
        self._notifications: object = None
        self._notified = True
        self._fanned_out_at = 0.0
        self._failing = False
        self._failing_endpoints: set[int] = set()

    async def start(self) -> None:
        limits = httpx.Limits(max_connections=self._cap, max_keepalive_connections=self._cap)
        self._client = httpx.AsyncClient(
            # Headers and body leave in separate writes: without TCP_NODELAY, Nagle holds the body
            # until the receiver's delayed ACK (~20 ms a request on Linux).
            transport=httpx.AsyncHTTPTransport(
                limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
            ),
            timeout=httpx.Timeout(self._timeout_s),
            follow_redirects=False,
            limits=limits,
            headers={"user-agent": "entitle-webhooks"},
            trust_env=False,
        )
        stack = contextlib.AsyncExitStack()
        with contextlib.suppress(Exception):  # without notifications the poll still runs
            self._notifications = await stack.enter_async_context(
                DatabaseFeedSource(self._database).listen(self.wake)
            )
        self._listening = stack
        self._task = asyncio.create_task(self._run(), name="entitle-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._active.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        self._active.clear()
        if self._listening is not None:
            await self._listening.aclose()
            self._listening = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self, revision: str | None = None) -> None:
        if revision is not None:  # a commit's notification (a finished drain wakes without one)
            self._notified = True
        self._wake.set()

    async def run_once(self) -> None:
        """One turn: fan out what is new, then start a drain for every due endpoint."""
        listening = bool(getattr(self._notifications, "active", False))
        if not listening or self._notified or time.monotonic() - self._fanned_out_at >= self.IDLE_FAN_OUT_S:
            self._notified = False
            await self._fan_out()
            self._fanned_out_at = time.monotonic()
        await self._dispatch()

    async def _run(self) -> None:
        poll_s = self._settings.entitle_webhook_poll_ms / 1000
        while True:
            try:
                await self.run_once()
            except Exception as error:
                outage = unavailable_reason(error)
                if outage is not None:  # the process logs an outage once, through `health`
                    self._health.failed(outage)
                elif not self._failing:
                    log.warning("webhook worker: a turn failed (%s); retrying", type(error).__name__)
                    self._failing = True
            else:
                if self._failing:
                    log.warning("webhook worker: running again")
                self._failing = False
            await asyncio.sleep(min(self.MIN_TURN_GAP_S, poll_s))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def _fan_out(self) -> None:
        async with self._database.lookup() as connection:
            if not await repo.has_changes_to_fan_out(connection):
                return
        while True:
            at = now()
            async with self._database.write() as session:
                done = await repo.fan_out(session, at, at + self._retry_window, event_body)
            if done is None or done[0] < repo._CHUNK:
                return

    async def _dispatch(self) -> None:
        free = self._cap - len(self._active)
        if free <= 0:
            return
        async with self._database.lookup() as connection:
            due = await repo.due_endpoints(connection, now(), self._cap + len(self._active))
        for endpoint_id in due:
            if free <= 0:
                break
            if endpoint_id in self._active:
                continue
            task = asyncio.create_task(self._drain(endpoint_id), name=f"entitle-webhook-{endpoint_id}")
            self._active[endpoint_id] = task
            task.add_done_callback(functools.partial(self._finished, endpoint_id))
            free -= 1

    def _finished(self, endpoint_id: int, _task: asyncio.Task[None]) -> None:
        self._active.pop(endpoint_id, None)
        self.wake()

    async def _drain(self, endpoint_id: int) -> None:
        while True:
            at = now()
            async with self._database.write() as session:
                endpoint, batch = await repo.claim(
                    session, endpoint_id, self.owner, at, at + self._lease, self.BATCH
                )
            if endpoint is None or not batch:
                return
            if not await self._send_batch(endpoint, batch):
                return

    async def _send_batch(self, endpoint: WebhookEndpointRecord, batch: Sequence[ClaimedDelivery]) -> bool:
        """Send ``batch`` in order; True when all were delivered (the queue may have more)."""
        refusal = await destination_refusal(endpoint.url, self._settings.entitle_webhook_allow_private)
        lease_until = now() + self._lease
        delivered: list[tuple[int, int, datetime]] = []
        last_flush = time.monotonic()
        sent = 0
        try:
            for delivery in batch:
                if refusal is not None:
                    await self._fail(endpoint, delivery, None, f"refused: {refusal}")
                    sent += 1
                    return False
                if lease_until - now() < timedelta(seconds=self._timeout_s + 1):
                    lease_until = now() + self._lease
                    async with self._database.write() as session:
                        await repo.renew(session, [d.id for d in batch[sent:]], self.owner, lease_until)
                code, error = await self._attempt(endpoint, delivery)
                if error is None and code is not None:
                    delivered.append((int(delivery.id), code, now()))
                    sent += 1
                    if len(delivered) >= self.FLUSH_EVERY or time.monotonic() - last_flush > self.FLUSH_S:
                        await self._flush(delivered)
                        last_flush = time.monotonic()
                    continue
                await self._flush(delivered)
                await self._fail(endpoint, delivery, code, error or "failed")
                sent += 1
                return False
            self._recovered(endpoint)
            return True
        finally:
            await self._flush(delivered)
            async with self._database.write() as session:
                await repo.release(session, [d.id for d in batch[sent:]], self.owner)

    async def _flush(self, delivered: list[tuple[int, int, datetime]]) -> None:
        if delivered:
            async with self._database.write() as session:
                await repo.record_successes(session, delivered)
            record_webhook_delivery(DeliveryStatus.SUCCEEDED.value, len(delivered))
            delivered.clear()

    async def _fail(
        self, endpoint: WebhookEndpointRecord, delivery: ClaimedDelivery, code: int | None, error: str
    ) -> None:
        attempts = int(delivery.attempts) + 1
        at = now()
        next_at: datetime | None = at + timedelta(
            seconds=retry_delay(attempts, self._settings.entitle_webhook_retry_base_s)
        )
        if next_at is not None and next_at > delivery.retry_until:
            next_at = None
        async with self._database.write() as session:
            await repo.record_failure(session, int(delivery.id), code, error, next_at)
        record_webhook_delivery((DeliveryStatus.PENDING if next_at else DeliveryStatus.FAILED).value)
        if endpoint.id not in self._failing_endpoints:
            self._failing_endpoints.add(endpoint.id)
            log.warning("webhook endpoint %s failing: %s; retrying with backoff", endpoint.id, error)

    def _recovered(self, endpoint: WebhookEndpointRecord) -> None:
        if endpoint.id in self._failing_endpoints:
            self._failing_endpoints.discard(endpoint.id)
            log.warning("webhook endpoint %s delivers again", endpoint.id)

    async def _attempt(
        self, endpoint: WebhookEndpointRecord, delivery: ClaimedDelivery
    ) -> tuple[int | None, str | None]:
        """One POST: (status code, None) when delivered, else (status code or None, the error)."""
        assert self._client is not None
        at = now()
        keys = [endpoint.secret]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_until
            and endpoint.previous_secret_until > at
        ):
            keys.append(endpoint.previous_secret)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature(keys, delivery.message_id, at, delivery.body),
        }
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._client.stream(
                    "POST", endpoint.url, content=delivery.body.encode(), headers=headers
                ) as response:
                    received = 0
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
                        if received > self.MAX_RESPONSE_BYTES:
                            break
                    code = response.status_code
        except (TimeoutError, httpx.TimeoutException):
            return None, f"no response within {self._timeout_s:g} s"
        except httpx.HTTPError as error:
            return None, f"connection failed ({type(error).__name__}: {str(error)[:200] or 'no detail'})"
        if 200 <= code < 300:
            return code, None
        if 300 <= code < 400:
            return code, f"HTTP {code}: redirects are not followed"
        return code, f"HTTP {code}"
