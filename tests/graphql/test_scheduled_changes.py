"""Scheduled changes (contract §9): a grant reaching its start or expiration appends ENTITLEMENT_STARTED /
ENTITLEMENT_EXPIRED within 5 s of the instant, exactly once however many processes run."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from entitle.services import entitlements as entitlement_service
from tests.conftest import Api, serving
from tests.factories import batch_grant, entitlement_input, grant, make_feature, make_tenant

SCHEDULED = """
{ changes(filter: {kinds: [ENTITLEMENT_STARTED, ENTITLEMENT_EXPIRED]}, first: 500) {
    edges { node { kind at actor tenantKey featureKey entitlement { id } } } } }
"""


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


async def scheduled(api: Api) -> list[dict[str, Any]]:
    data = await api.data(SCHEDULED)
    return [edge["node"] for edge in data["changes"]["edges"]]


async def wait_for(api: Api, count: int, within_s: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within_s
    while len(found := await scheduled(api)) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} scheduled changes: {found}"
        await asyncio.sleep(0.2)
    return found


async def test_a_grant_starting_and_expiring_later_appends_both_changes_within_5_s(database_url: str) -> None:
    async with serving(database_url, entitle_scheduler=True) as api:
        # given: a grant that starts in a second and expires a second later
        await make_feature(api, "sso")
        await make_tenant(api, "acme")
        start = datetime.now(UTC) + timedelta(seconds=1)
        end = start + timedelta(seconds=1)
        entitlement = await grant(
            api, feature_key="sso", tenant_key="acme", start_date=iso(start), expiration_date=iso(end)
        )
        # when: both instants pass
        found = await wait_for(api, 2, within_s=8)
        # then: started, then expired, by the system, each within 5 s of its instant
        assert [c["kind"] for c in found] == ["ENTITLEMENT_STARTED", "ENTITLEMENT_EXPIRED"]
        for change, instant in zip(found, (start, end), strict=True):
            assert change["actor"] == "system"
            assert (change["tenantKey"], change["featureKey"]) == ("acme", "sso")
            assert change["entitlement"] == {"id": entitlement["id"]}
            appended = datetime.fromisoformat(change["at"])
            assert timedelta(0) <= appended - instant < timedelta(seconds=5)


async def test_grants_that_start_when_granted_or_are_revoked_first_get_no_scheduled_change(
    database_url: str,
) -> None:
    async with serving(database_url, entitle_scheduler=True) as api:
        await make_feature(api, "sso")
        await make_tenant(api, "acme")
        soon = iso(datetime.now(UTC) + timedelta(seconds=1))
        await grant(api, feature_key="sso", tenant_key="acme")  # starts now: ENTITLEMENT_GRANTED says so
        revoked = await grant(api, feature_key="sso", tenant_key="acme", expiration_date=soon)
        await api.data(
            "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount } }",
            {"ids": [revoked["id"]]},
        )
        kept = await grant(api, feature_key="sso", tenant_key="acme", expiration_date=soon)
        found = await wait_for(api, 1, within_s=8)
        await asyncio.sleep(2.5)  # a few more runs: nothing else may come
        assert [(c["kind"], c["entitlement"]["id"]) for c in await scheduled(api)] == [
            ("ENTITLEMENT_EXPIRED", kept["id"])
        ]
        assert found[0]["kind"] == "ENTITLEMENT_EXPIRED"


async def test_two_processes_append_each_scheduled_change_exactly_once(database_url: str) -> None:
    async with (
        serving(database_url, entitle_scheduler=True) as one,
        serving(database_url, entitle_scheduler=True),
    ):
        # given: 20 grants expiring within the next 2 s, seen by two processes that both schedule
        await make_feature(one, "sso")
        await make_tenant(one, "acme")
        soon = iso(datetime.now(UTC) + timedelta(seconds=2))
        items = [
            entitlement_input(feature_key="sso", tenant_key="acme", expiration_date=soon) for _ in range(20)
        ]
        assert (await batch_grant(one, items))["errors"] == []
        # when: the instant passes and both have run several times
        await wait_for(one, 20, within_s=8)
        await asyncio.sleep(2.5)
        # then: one change per grant
        found = await scheduled(one)
        assert len(found) == 20
        assert len({c["entitlement"]["id"] for c in found}) == 20


RESETS = """
{ changes(filter: {kinds: [USAGE_PERIOD_RESET]}) {
    edges { node { kind at actor tenantKey userKey featureKey payload } } } }
"""


async def test_a_metered_period_with_usage_ending_appends_one_usage_period_reset_across_processes(
    database_url: str,
) -> None:
    async with (
        serving(database_url, entitle_scheduler=True) as api,
        serving(database_url, entitle_scheduler=True) as other,
    ):
        # given: daily periods anchored so that the current one ends in 2 s; acme used 3, globex nothing
        await make_feature(api, "calls", "LIMIT", resetPeriod="DAY")
        await make_tenant(api, "acme")
        await make_tenant(api, "globex")
        end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        for tenant in ("acme", "globex"):
            await grant(
                api, feature_key="calls", value=10, tenant_key=tenant, start_date=iso(end - timedelta(days=1))
            )
        used = await other.data(
            'mutation { reportUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 3, idempotencyKey: "k"})'
            " { used resetsAt } }"
        )
        assert used["reportUsage"] == {"used": 3, "resetsAt": iso(end)}
        # when: the period ends, both processes running the schedule
        deadline = time.monotonic() + 8
        while not (found := (await api.data(RESETS))["changes"]["edges"]):
            assert time.monotonic() < deadline, "no USAGE_PERIOD_RESET within 6 s of the period's end"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.5)  # more runs of both schedules: nothing else may come
        # then: one change, for acme only, by the system, within 5 s of the boundary
        edges = (await api.data(RESETS))["changes"]["edges"]
        assert len(edges) == 1
        change = edges[0]["node"]
        assert (change["actor"], change["tenantKey"], change["userKey"], change["featureKey"]) == (
            "system", "acme", None, "calls"
        )  # fmt: skip
        assert change["payload"]["used"] == 3
        assert change["payload"]["periodEnd"] == iso(end)
        assert timedelta(0) <= datetime.fromisoformat(change["at"]) - end < timedelta(seconds=5)
        assert found


async def test_a_period_whose_usage_commits_after_its_end_still_gets_its_reset(database_url: str) -> None:
    """A usage write that read the clock before a period's end can commit after the schedule has run
    past that end (it waited for the lock, or was slow): its counter must still get the reset. Here
    the write says so itself (``at`` before the end, sent after it)."""
    async with serving(database_url, entitle_scheduler=True) as api:
        # given: a daily period that ends in 1 s, and the schedule has run past its end
        await make_feature(api, "calls", "LIMIT", resetPeriod="DAY")
        await make_tenant(api, "acme")
        end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        await grant(
            api, feature_key="calls", value=10, tenant_key="acme", start_date=iso(end - timedelta(days=1))
        )
        await asyncio.sleep((end - datetime.now(UTC)).total_seconds() + 2.5)
        assert (await api.data(RESETS))["changes"]["edges"] == []
        # when: usage of that period arrives now
        used = await api.data(
            'mutation($at: DateTime!) { reportUsage(input: {tenantKey: "acme", featureKey: "calls", '
            'amount: 2, idempotencyKey: "late", at: $at}) { used resetsAt } }',
            {"at": iso(end - timedelta(seconds=1))},
        )
        assert used["reportUsage"] == {"used": 2, "resetsAt": iso(end)}
        # then: its reset comes at a next run, once
        deadline = time.monotonic() + 5
        while not (await api.data(RESETS))["changes"]["edges"]:
            assert time.monotonic() < deadline, "no USAGE_PERIOD_RESET for a counter committed after its end"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)
        edges = (await api.data(RESETS))["changes"]["edges"]
        assert [(e["node"]["tenantKey"], e["node"]["payload"]["used"]) for e in edges] == [("acme", 2)]
        assert edges[0]["node"]["payload"]["periodEnd"] == iso(end)


async def test_a_grant_committed_after_its_start_and_expiration_passed_the_schedule_still_gets_both(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grant write reads its clock, then may wait (for the lock, a slow statement) before it commits;
    a start or expiration between the two has been passed by the schedule when the row appears. Here
    the write's clock is set 5 s behind the schedule's, so that its start (2 s ago) and expiration
    (1 s ago) are ahead of the write but behind the schedule's last run."""
    async with serving(database_url, entitle_scheduler=True) as api:
        # given: the schedule has run (and runs every second)
        await make_feature(api, "sso")
        await make_tenant(api, "acme")
        await asyncio.sleep(2)
        real = datetime.now(UTC)
        monkeypatch.setattr(entitlement_service, "now", lambda: datetime.now(UTC) - timedelta(seconds=5))
        # when
        entitlement = await grant(
            api,
            feature_key="sso",
            tenant_key="acme",
            start_date=iso(real - timedelta(seconds=2)),
            expiration_date=iso(real - timedelta(seconds=1)),
        )
        # then: both changes, at a next run, once
        found = await wait_for(api, 2, within_s=5)
        await asyncio.sleep(1.5)
        assert [(c["kind"], c["entitlement"]["id"]) for c in await scheduled(api)] == [
            ("ENTITLEMENT_STARTED", entitlement["id"]),
            ("ENTITLEMENT_EXPIRED", entitlement["id"]),
        ]
        assert found[0]["actor"] == "system"
