"""batchCreateEntitlements (§7): validate everything first, atomic or best effort, idempotent replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Api, serving
from tests.factories import (
    BATCH_CREATE_ENTITLEMENTS,
    UPSERT_TENANTS,
    batch_grant,
    entitlement_input,
    make_feature,
    make_plan,
    make_tenant,
    make_user,
)

COUNT = "{ entitlements { totalCount } }"
REVOKE = "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount errors { index code } } }"
MAX_BATCH = 5


@pytest.fixture
async def small_batch_api(database_url: str) -> AsyncIterator[Api]:
    """An API whose batches hold at most ``MAX_BATCH`` items."""
    async with serving(database_url, entitle_max_batch=MAX_BATCH) as served:
        yield served


async def _seed(api: Api) -> None:
    await make_feature(api, "seats", "LIMIT")
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"seats": 10, "sso": True})
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "ann", ["acme"])
    await make_user(api, "bob", ["globex"])


async def _count(api: Api) -> int:
    total: int = (await api.data(COUNT))["entitlements"]["totalCount"]
    return total


GOOD = [
    entitlement_input(plan_key="pro", tenant_key="acme"),
    entitlement_input(plan_key="pro", tenant_key="acme", user_key="ann"),
    entitlement_input(feature_key="seats", user_key="bob", value=3),
]
BAD: list[tuple[dict[str, Any], str, str]] = [
    (entitlement_input(feature_key="seats", tenant_key="acme", value=-1), "BAD_USER_INPUT", "value"),
    (entitlement_input(plan_key="pro", feature_key="sso", tenant_key="acme"), "BAD_USER_INPUT", "planKey"),
    (entitlement_input(plan_key="ghost", tenant_key="acme"), "NOT_FOUND", "planKey"),
    (entitlement_input(feature_key="ghost", tenant_key="acme"), "NOT_FOUND", "featureKey"),
    (entitlement_input(plan_key="pro", tenant_key="ghost"), "NOT_FOUND", "tenantKey"),
    (entitlement_input(plan_key="pro", user_key="ghost"), "NOT_FOUND", "userKey"),
    (entitlement_input(plan_key="pro", tenant_key="acme", user_key="bob"), "CONFLICT", "userKey"),
    (
        entitlement_input(
            plan_key="pro",
            tenant_key="acme",
            start_date="2030-01-02T00:00:00Z",
            expiration_date="2030-01-01T00:00:00Z",
        ),
        "BAD_USER_INPUT",
        "expirationDate",
    ),
]


def _interleaved() -> tuple[list[dict[str, Any]], list[tuple[int, str, str]]]:
    """Good and bad items mixed; returns the items and the (index, code, field) expected per bad one."""
    items: list[dict[str, Any]] = []
    expected: list[tuple[int, str, str]] = []
    for position, (item, code, field) in enumerate(BAD):
        items.append(GOOD[position % len(GOOD)])
        expected.append((len(items), code, field))
        items.append(item)
    return items, expected


async def test_an_atomic_batch_with_bad_items_writes_nothing_and_reports_every_bad_item(api: Api) -> None:
    # given
    await _seed(api)
    items, expected = _interleaved()
    # when
    payload = await batch_grant(api, items)
    # then
    assert payload["entitlements"] == []
    assert [(e["index"], e["code"], e["field"]) for e in payload["errors"]] == expected
    assert all(e["message"] for e in payload["errors"])
    assert await _count(api) == 0


async def test_a_non_atomic_batch_writes_the_good_items_and_reports_the_bad_ones(api: Api) -> None:
    # given
    await _seed(api)
    items, expected = _interleaved()
    # when
    payload = await batch_grant(api, items, atomic=False)
    # then
    assert [(e["index"], e["code"], e["field"]) for e in payload["errors"]] == expected
    written = payload["entitlements"]
    assert len(written) == len(BAD)
    assert [(e["assignLevel"], (e["tenant"] or {}).get("key")) for e in written[:3]] == [
        ("TENANT", "acme"),
        ("USER", "acme"),
        ("INDIVIDUAL", None),
    ]
    assert await _count(api) == len(BAD)


async def test_a_good_atomic_batch_writes_every_item_in_order(api: Api) -> None:
    # given
    await _seed(api)
    # when
    payload = await batch_grant(api, GOOD)
    # then
    assert payload["errors"] == []
    assert [e["assignLevel"] for e in payload["entitlements"]] == ["TENANT", "USER", "INDIVIDUAL"]
    assert payload["entitlements"][2]["feature"] == {"key": "seats"}
    assert await _count(api) == 3


async def test_a_repeated_idempotency_key_writes_nothing_new_and_returns_the_first_result(api: Api) -> None:
    # given
    await _seed(api)
    first = await batch_grant(api, GOOD, idempotency_key="order-1")
    # when
    second = await batch_grant(api, GOOD, idempotency_key="order-1")
    # then
    assert await _count(api) == 3
    assert [e["id"] for e in second["entitlements"]] == [e["id"] for e in first["entitlements"]]
    assert second == first


async def test_a_repeated_idempotency_key_replays_the_errors_of_a_failed_batch(api: Api) -> None:
    # given
    await _seed(api)
    items, _ = _interleaved()
    first = await batch_grant(api, items, atomic=False, idempotency_key="order-2")
    # when
    second = await batch_grant(api, items, atomic=False, idempotency_key="order-2")
    # then
    assert second == first
    assert len(second["errors"]) == len(BAD)
    assert await _count(api) == len(BAD)


async def test_a_replayed_batch_still_returns_revoked_entitlements(api: Api) -> None:
    # given
    await _seed(api)
    first = await batch_grant(api, GOOD, idempotency_key="order-3")
    await api.data(REVOKE, {"ids": [first["entitlements"][0]["id"]]})
    # when
    second = await batch_grant(api, GOOD, idempotency_key="order-3")
    # then
    assert [e["id"] for e in second["entitlements"]] == [e["id"] for e in first["entitlements"]]
    assert second["entitlements"][0]["status"] == "REVOKED"
    assert await _count(api) == 3


async def test_different_idempotency_keys_write_separately(api: Api) -> None:
    # given
    await _seed(api)
    await batch_grant(api, GOOD, idempotency_key="a")
    # when
    await batch_grant(api, GOOD, idempotency_key="b")
    # then
    assert await _count(api) == 6


async def test_an_idempotency_key_reused_for_a_different_batch_is_a_conflict_and_writes_nothing(
    api: Api,
) -> None:
    # given
    await _seed(api)
    await batch_grant(api, GOOD, idempotency_key="import-1")
    # when
    error = await api.error(BATCH_CREATE_ENTITLEMENTS, {"input": GOOD[:1], "key": "import-1"})
    # then
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("CONFLICT", "idempotencyKey")
    assert await _count(api) == len(GOOD)


async def test_an_empty_idempotency_key_is_refused(api: Api) -> None:
    await _seed(api)
    error = await api.error(BATCH_CREATE_ENTITLEMENTS, {"input": GOOD, "key": ""})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await _count(api) == 0


async def test_a_batch_over_the_maximum_size_is_bad_user_input(small_batch_api: Api) -> None:
    # given
    api = small_batch_api
    await _seed(api)
    items = [entitlement_input(plan_key="pro", tenant_key="acme")] * (MAX_BATCH + 1)
    # when
    error = await api.error(BATCH_CREATE_ENTITLEMENTS, {"input": items})
    tenants_error = await api.error(
        UPSERT_TENANTS, {"input": [{"key": f"t{i}"} for i in range(MAX_BATCH + 1)]}
    )
    # then
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert str(MAX_BATCH) in error["message"]
    assert tenants_error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await _count(api) == 0


async def test_a_batch_of_exactly_the_maximum_size_is_written(small_batch_api: Api) -> None:
    # given
    api = small_batch_api
    await _seed(api)
    items = [entitlement_input(plan_key="pro", tenant_key="acme")] * MAX_BATCH
    # when
    payload = await batch_grant(api, items)
    # then
    assert payload["errors"] == []
    assert len(payload["entitlements"]) == MAX_BATCH
    assert await _count(api) == MAX_BATCH


async def test_concurrent_retries_with_one_idempotency_key_write_once(api: Api) -> None:
    # given
    await _seed(api)
    # when
    results = await asyncio.gather(*(batch_grant(api, GOOD, idempotency_key="race") for _ in range(4)))
    # then
    assert await _count(api) == 3
    ids = {tuple(e["id"] for e in r["entitlements"]) for r in results}
    assert len(ids) == 1
    assert len(next(iter(ids))) == 3
