"""Webhooks' rules (contract §10): subscriptions, bodies, signatures, the retry schedule, secrets.

Pure functions: the service validates and stores, the background worker sends; both ask these.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from entitle.domain.changes import EVENT_KINDS, Change
from entitle.domain.errors import BadUserInput

TEST_EVENT = "webhook.test"
ALL_EVENTS = "*"
SECRET_PREFIX = "whsec_"
MAX_URL = 2048
MAX_DESCRIPTION = 1000
MAX_EVENTS = 100
ROTATION_OVERLAP = timedelta(hours=24)
"""After a rotation the previous secret signs too, for this long."""
MAX_RETRY_DELAY_S = 4 * 3600.0
RETRY_FACTOR = 3.0
JITTER = 0.2


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id() -> str:
    """The ``webhook-id`` of a delivery: the same on every attempt, unique across installations."""
    return "msg_" + secrets.token_hex(16)


def check_events(events: Sequence[str], *, field: str = "input.events") -> list[str]:
    """The subscribed event names, deduplicated in order; unknown names are ``BAD_USER_INPUT``."""
    if not events:
        raise BadUserInput("give at least one event name, or '*' for all", field=field)
    if len(events) > MAX_EVENTS:
        raise BadUserInput(f"at most {MAX_EVENTS} event names", field=field)
    unknown = [e for e in events if e != ALL_EVENTS and e not in EVENT_KINDS]
    if unknown:
        raise BadUserInput(
            f"unknown event name {unknown[0]!r}: use names like 'entitlement.granted', or '*'", field=field
        )
    return list(dict.fromkeys(events))


def subscribes(events: Iterable[str], event_name: str) -> bool:
    return any(e in (ALL_EVENTS, event_name) for e in events)


def check_url_shape(url: str, *, field: str = "input.url") -> tuple[str, str]:
    """(scheme, host) of an absolute ``http``/``https`` URL; anything else is ``BAD_USER_INPUT``."""
    if len(url) > MAX_URL:
        raise BadUserInput(f"the URL is longer than {MAX_URL} characters", field=field)
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a bad port raises here
    except ValueError:
        raise BadUserInput("not a valid URL", field=field) from None
    if parts.scheme not in ("http", "https"):
        raise BadUserInput("the URL must be http:// or https://", field=field)
    if not host:
        raise BadUserInput("the URL has no host", field=field)
    if parts.username or parts.password:
        raise BadUserInput("the URL must not carry credentials", field=field)
    return parts.scheme, host


def refused_address(address: str) -> str | None:
    """Why a webhook may not go to ``address`` (loopback, private, ...), or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, what in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_private, "private"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_unspecified, "unspecified"),
        (not ip.is_global, "non-public"),
    ):
        if test:
            return f"{ip} is a {what} address"
    return None


def event_body(change: Change, at: datetime | None = None) -> str:
    """The JSON body of a change's delivery: ``{"type", "timestamp", "data": {revision, kind, actor,
    keys, payload}}``."""
    data: dict[str, object] = {
        "revision": str(change.revision),
        "kind": change.kind.value,
        "at": _iso(change.at),
        "actor": change.actor,
        "tenantKey": change.tenant_key,
        "userKey": change.user_key,
        "featureKey": change.feature_key,
        "planKey": change.plan_key,
        "payload": change.payload,
    }
    return _body(change.kind.event_name, at or change.at, data)


def test_body(endpoint_id: str, at: datetime) -> str:
    return _body(TEST_EVENT, at, {"endpointId": endpoint_id})


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _body(event: str, at: datetime, data: dict[str, object]) -> str:
    return json.dumps({"type": event, "timestamp": _iso(at), "data": data}, separators=(",", ":"))


def signature(secrets_: Sequence[str], message_id: str, at: datetime, body: str) -> str:
    """``webhook-signature``: ``v1,<sig>`` per secret, space-separated (new one first)."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets_)


def retry_delay(attempts: int, base_s: float, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: ``base * 3^(attempts-1)``,
    capped at 4 h, with ±20 % jitter."""
    delay = min(base_s * RETRY_FACTOR ** max(attempts - 1, 0), MAX_RETRY_DELAY_S)
    return delay * (1 + JITTER * (2 * (rng or random).random() - 1))
