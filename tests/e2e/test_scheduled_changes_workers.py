"""Scheduled changes with the workers of a real ``entitle serve --workers 2`` (contract §9): every grant's
``ENTITLEMENT_STARTED`` / ``ENTITLEMENT_EXPIRED`` is appended exactly once, within 5 s of its instant,
though both worker processes run the schedule every second."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory
from tests.e2e.test_workers import post_fresh

pytestmark = pytest.mark.e2e

GRANTS = 10
SEED = [
    'mutation { createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key } }',
    'mutation { upsertTenants(input: [{key: "acme"}]) { errors { message } } }',
]
BATCH = """mutation($items: [CreateEntitlementInput!]!) {
  batchCreateEntitlements(input: $items) { entitlements { id } errors { message } }
}"""
SCHEDULED = """{ changes(filter: {kinds: [ENTITLEMENT_STARTED, ENTITLEMENT_EXPIRED]}, first: 500) {
  edges { node { kind at actor entitlement { id } } } } }"""


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def scheduled(base_url: str) -> list[dict[str, Any]]:
    return [edge["node"] for edge in post_fresh(base_url, SCHEDULED).data["changes"]["edges"]]


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_two_workers_append_each_scheduled_change_exactly_once(
    serve: ServeFactory, backend: str, request: pytest.FixtureRequest
) -> None:
    # given: two workers, both running the scheduler (the default)
    url = request.getfixturevalue(f"{backend}_url")
    server = serve({"DATABASE_URL": url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY}, workers=2)
    for query in SEED:
        post_fresh(server.base_url, query)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    end = start + timedelta(seconds=1)
    grant = {"featureKey": "sso", "tenantKey": "acme"}
    items = [{**grant, "startDate": iso(start), "expirationDate": iso(end)} for _ in range(GRANTS)]
    items += [{**grant, "expirationDate": iso(start)} for _ in range(GRANTS)]
    created = post_fresh(server.base_url, BATCH, {"items": items}).data["batchCreateEntitlements"]
    assert created["errors"] == []
    starting = {e["id"] for e in created["entitlements"][:GRANTS]}
    expected = {("ENTITLEMENT_STARTED", i) for i in starting} | {
        ("ENTITLEMENT_EXPIRED", e["id"]) for e in created["entitlements"]
    }
    # when: both instants pass, and each worker runs its schedule a few more times
    deadline = time.monotonic() + 12
    while len(found := scheduled(server.base_url)) < len(expected):
        assert time.monotonic() < deadline, f"{len(found)} of {len(expected)} scheduled changes"
        time.sleep(0.2)
    time.sleep(2.5)
    # then: one change per grant and instant, by the system, within 5 s of the instant
    found = scheduled(server.base_url)
    assert sorted((c["kind"], c["entitlement"]["id"]) for c in found) == sorted(expected)
    assert {c["actor"] for c in found} == {"system"}
    for change in found:
        instant = (
            end
            if change["kind"] == "ENTITLEMENT_EXPIRED" and change["entitlement"]["id"] in starting
            else start
        )
        assert timedelta(0) <= datetime.fromisoformat(change["at"]) - instant < timedelta(seconds=5)
    assert "Traceback" not in server.stderr()
