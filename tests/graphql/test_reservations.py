"""Reservations (contract §11): hold units, then commit or release them; holds count as used for everyone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Api, serving
from tests.factories import grant, make_feature, make_tenant, make_user
from tests.graphql.test_user_tokens import user_token

START = "2020-01-01T00:00:00Z"  # reservations are made now: the grant must be active now

FIELDS = (
    "id status amount committed expiresAt decision { isEntitled justification used held remaining warning }"
)
RESERVE = f"mutation($input: ReserveUsageInput!) {{ reserveUsage(input: $input) {{ {FIELDS} }} }}"
COMMIT = (
    f"mutation($id: ID!, $amount: Int) {{ commitUsage(reservationId: $id, amount: $amount) {{ {FIELDS} }} }}"
)
RELEASE = f"mutation($id: ID!) {{ releaseUsage(reservationId: $id) {{ {FIELDS} }} }}"
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on UsageReservation {{ {FIELDS} }} }} }}"
CHECK = '{ isEntitledTo(tenantKey: "acme", featureKey: "calls") { used held remaining } }'
REPORT = """
mutation($input: ReportUsageInput!) { reportUsage(input: $input) { isEntitled justification used held remaining } }
"""


async def given_metered(
    api: Api, limit: int = 10, *, overage: str = "BLOCK", thresholds: list[int] | None = None
) -> None:
    await make_feature(
        api, "calls", "LIMIT", resetPeriod="MONTH", overage=overage, warningThresholds=thresholds or []
    )
    await make_tenant(api, "acme")
    await make_user(api, "alice", ["acme"])
    await grant(api, feature_key="calls", value=limit, tenant_key="acme", start_date=START)


async def reserve(
    api: Api, amount: int, key: str, *, token: str | None = "default", **fields: Any
) -> dict[str, Any]:
    payload = {"tenantKey": "acme", "featureKey": "calls", "amount": amount, "idempotencyKey": key, **fields}
    result: dict[str, Any] = (await api.data(RESERVE, {"input": payload}, token=token))["reserveUsage"]
    return result


async def numbers(api: Api) -> tuple[int, int, int]:
    decision = (await api.data(CHECK))["isEntitledTo"]
    return decision["used"], decision["held"], decision["remaining"]


async def test_held_units_count_as_used_for_checks_and_consumptions(api: Api) -> None:
    # given
    await given_metered(api, 10)
    # when
    held = await reserve(api, 7, "job-1")
    report = await api.data(
        REPORT, {"input": {"tenantKey": "acme", "featureKey": "calls", "amount": 4, "idempotencyKey": "r1"}}
    )
    # then
    assert (held["status"], held["amount"], held["committed"]) == ("HELD", 7, None)
    assert held["decision"] == {
        "isEntitled": True, "justification": None, "used": 0, "held": 7, "remaining": 3, "warning": None
    }  # fmt: skip
    assert await numbers(api) == (0, 7, 3)
    assert report["reportUsage"]["justification"] == "LIMIT_EXCEEDED"


async def test_commit_consumes_part_and_frees_the_rest_release_frees_all(api: Api) -> None:
    # given
    await given_metered(api, 10)
    first = await reserve(api, 6, "job-1")
    second = await reserve(api, 3, "job-2")
    # when
    committed = await api.data(COMMIT, {"id": first["id"], "amount": 4})
    after_commit = await numbers(api)
    released = await api.data(RELEASE, {"id": second["id"]})
    # then
    assert (committed["commitUsage"]["status"], committed["commitUsage"]["committed"]) == ("COMMITTED", 4)
    assert committed["commitUsage"]["decision"]["used"] == 4
    assert after_commit == (4, 3, 3)
    assert (released["releaseUsage"]["status"], released["releaseUsage"]["committed"]) == ("RELEASED", 0)
    assert await numbers(api) == (4, 0, 6)


async def test_commit_without_amount_consumes_everything_held(api: Api) -> None:
    await given_metered(api, 10)
    held = await reserve(api, 5, "job-1")
    committed = (await api.data(COMMIT, {"id": held["id"]}))["commitUsage"]
    assert (committed["status"], committed["committed"]) == ("COMMITTED", 5)
    assert await numbers(api) == (5, 0, 5)


async def test_a_reservation_that_does_not_fit_is_refused_and_a_repeat_returns_it(api: Api) -> None:
    # given
    await given_metered(api, 10, thresholds=[100])
    await reserve(api, 8, "job-1")
    # when
    refused = await reserve(api, 3, "job-2")
    repeat = await reserve(api, 3, "job-2")
    # then
    assert refused["status"] == "REFUSED"
    assert refused["decision"]["justification"] == "LIMIT_EXCEEDED"
    assert (refused["decision"]["held"], refused["decision"]["remaining"]) == (8, 2)
    assert repeat == refused
    assert await numbers(api) == (0, 8, 2)
    kinds = await api.data("{ changes(filter: {kinds: [USAGE_LIMIT_EXCEEDED]}) { totalCount } }")
    assert kinds["changes"]["totalCount"] == 1


async def test_a_repeated_key_returns_the_same_reservation_and_holds_once(api: Api) -> None:
    await given_metered(api, 10)
    first = await reserve(api, 4, "job-1")
    again = await reserve(api, 4, "job-1")
    assert again["id"] == first["id"]
    assert await numbers(api) == (0, 4, 6)


async def test_settling_a_settled_reservation_is_a_conflict(api: Api) -> None:
    # given
    await given_metered(api, 10)
    held = await reserve(api, 4, "job-1")
    await api.data(COMMIT, {"id": held["id"], "amount": 1})
    # when
    again = await api.error(COMMIT, {"id": held["id"]})
    release = await api.error(RELEASE, {"id": held["id"]})
    # then
    assert again["extensions"]["code"] == "CONFLICT"
    assert release["extensions"]["code"] == "CONFLICT"
    assert await numbers(api) == (1, 0, 9)


@pytest.mark.parametrize(
    ("mutation", "variables", "code", "field"),
    [
        (COMMIT, {"amount": 5}, "BAD_USER_INPUT", "amount"),
        (COMMIT, {"amount": -1}, "BAD_USER_INPUT", "amount"),
        (
            COMMIT,
            {"id": "VXNhZ2VSZXNlcnZhdGlvbjo5OTk="},
            "NOT_FOUND",
            "reservationId",
        ),  # UsageReservation:999
        (RELEASE, {"id": "RmVhdHVyZTox"}, "NOT_FOUND", "reservationId"),  # Feature:1
    ],
)
async def test_bad_settlements_change_nothing(
    api: Api, mutation: str, variables: dict[str, Any], code: str, field: str
) -> None:
    # given
    await given_metered(api, 10)
    held = await reserve(api, 4, "job-1")
    # when
    error = await api.error(mutation, {"id": held["id"], **variables})
    # then
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field)
    assert await numbers(api) == (0, 4, 6)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"expiresInSeconds": 0}, "expiresInSeconds"),
        ({"idempotencyKey": ""}, "idempotencyKey"),
    ],
)
async def test_bad_reservations_are_bad_user_input(api: Api, fields: dict[str, Any], field: str) -> None:
    await given_metered(api, 10)
    payload = {"tenantKey": "acme", "featureKey": "calls", "amount": 1, "idempotencyKey": "k", **fields}
    error = await api.error(RESERVE, {"input": payload})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert await numbers(api) == (0, 0, 10)


async def test_an_unsettled_reservation_expires_by_itself(api: Api) -> None:
    # given
    await given_metered(api, 10)
    held = await reserve(api, 8, "job-1", expiresInSeconds=1)
    assert await numbers(api) == (0, 8, 2)
    # when
    await asyncio.sleep(1.2)
    # then
    assert await numbers(api) == (0, 0, 10)
    assert (await api.data(NODE, {"id": held["id"]}))["node"]["status"] == "EXPIRED"
    assert (await api.error(COMMIT, {"id": held["id"]}))["extensions"]["code"] == "CONFLICT"
    # a consumption that needs the room gets it (and sweeps the expired hold)
    ok = await api.data(
        REPORT, {"input": {"tenantKey": "acme", "featureKey": "calls", "amount": 9, "idempotencyKey": "r"}}
    )
    assert (ok["reportUsage"]["isEntitled"], ok["reportUsage"]["held"]) == (True, 0)
    assert (await api.data(NODE, {"id": held["id"]}))["node"]["status"] == "EXPIRED"


async def test_concurrent_reservations_in_two_processes_never_overshoot_a_block_limit(
    api: Api, database_url: str
) -> None:
    # given
    await given_metered(api, 25)
    async with serving(database_url) as other:
        # when
        results = await asyncio.gather(*(reserve(api if n % 2 else other, 1, f"c{n}") for n in range(60)))
    # then
    statuses = [r["status"] for r in results]
    assert statuses.count("HELD") == 25
    assert statuses.count("REFUSED") == 35
    assert await numbers(api) == (0, 25, 0)


async def test_commit_warns_and_announces_thresholds(api: Api) -> None:
    await given_metered(api, 10, thresholds=[50])
    held = await reserve(api, 6, "job-1")
    assert held["decision"]["warning"] is None  # holding is not consuming
    committed = (await api.data(COMMIT, {"id": held["id"]}))["commitUsage"]
    assert committed["decision"]["warning"] == "usage 6 has reached 50% of the limit of 10 for 'calls'"
    changes = await api.data("{ changes(filter: {kinds: [USAGE_THRESHOLD_REACHED]}) { totalCount } }")
    assert changes["changes"]["totalCount"] == 1


async def test_commits_are_usage_records(api: Api) -> None:
    await given_metered(api, 10)
    held = await reserve(api, 6, "job-1")
    await api.data(COMMIT, {"id": held["id"], "amount": 2})
    records = await api.data(
        "{ usageRecords { edges { node { tenantKey featureKey amount idempotencyKey accepted } } } }"
    )
    assert [e["node"] for e in records["usageRecords"]["edges"]] == [
        {"tenantKey": "acme", "featureKey": "calls", "amount": 2, "idempotencyKey": "job-1", "accepted": True}
    ]


async def test_a_user_token_reads_its_own_reservation_only_and_may_not_reserve(api: Api) -> None:
    # given
    await given_metered(api, 10)
    own = await reserve(api, 1, "job-1", userKey="alice")
    tenant_only = await reserve(api, 1, "job-2")
    alice = user_token("alice", "acme")
    # when / then
    assert (await api.data(NODE, {"id": own["id"]}, token=alice))["node"]["status"] == "HELD"
    assert (await api.error(NODE, {"id": tenant_only["id"]}, token=alice))["extensions"][
        "code"
    ] == "FORBIDDEN"
    assert (await api.error(NODE, {"id": own["id"]}, token=user_token("bob", "acme")))["extensions"][
        "code"
    ] == "FORBIDDEN"
    assert (await api.error('{ node(id: "RmVhdHVyZTox") { id } }', token=alice))["extensions"][
        "code"
    ] == "FORBIDDEN"
    payload = {"featureKey": "calls", "amount": 1, "idempotencyKey": "mine"}
    refused = await api.error(RESERVE, {"input": payload}, token=alice)
    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert await numbers(api) == (0, 2, 8)
