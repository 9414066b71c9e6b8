"""The change feed through the API (contract §9): every write appends its change in the same transaction,
with actor, keys and payload; consistency tokens; per-subject freshness across processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.conftest import Api, serving
from tests.factories import grant, make_feature, make_plan, make_tenant, make_user
from tests.graphql.test_user_tokens import user_token
from tests.operations.test_metrics import value

START = "2030-01-01T00:00:00Z"
AT = "2030-01-15T00:00:00Z"

CHANGES = """
query($filter: ChangeFilter, $first: Int) {
  changes(filter: $filter, first: $first) {
    totalCount
    edges { node { id revision kind actor tenantKey userKey featureKey planKey payload entitlement { id } } }
  }
}
"""
DECIDE = """
query($t: String, $u: String, $f: String!, $rev: String) {
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f, at: "2030-01-15T00:00:00Z", minRevision: $rev) {
    isEntitled
  }
}
"""
CACHE_LOOKUPS = "entitle_cache_requests_total"
REVOKE = "mutation($ids: [ID!]!) { revokeEntitlements(ids: $ids) { revokedCount } }"


async def changes(api: Api, **filter: Any) -> list[dict[str, Any]]:
    data = await api.data(CHANGES, {"filter": filter or None, "first": 500})
    return [edge["node"] for edge in data["changes"]["edges"]]


async def test_every_kind_of_write_appends_its_change_with_actor_and_keys(api: Api) -> None:
    # given / when: one write of each kind
    await make_feature(api, "sso")
    await make_feature(api, "seats", "LIMIT")
    await api.data('mutation { updateFeature(key: "seats", input: {name: "Seats"}) { key } }')
    await make_plan(api, "pro", {"seats": 10})
    await api.data('mutation { updatePlan(key: "pro", input: {name: "Pro"}) { key } }')
    await make_tenant(api, "acme")
    await make_user(api, "alice", ["acme"])
    entitlement = await grant(api, plan_key="pro", tenant_key="acme", start_date=START)
    await api.data(
        'mutation($id: ID!) { updateEntitlement(id: $id, input: {reason: "renewal"}) { id } }',
        {"id": entitlement["id"]},
    )
    await api.data(REVOKE, {"ids": [entitlement["id"]]})
    await api.data('mutation { removeMembers(tenantKey: "acme", userKeys: ["alice"]) { key } }')
    await api.data(
        'mutation { createFeatureFlag(input: {key: "beta", name: "Beta", on: true, featureKeys: ["sso"]}) '
        "{ key } }"
    )
    await api.data('mutation { deleteFeatureFlag(key: "beta") { deletedId } }')
    route = await api.data(
        'mutation { createApiRoute(input: {method: "GET", pathPattern: "/x", policy: ALLOW}) { id } }'
    )
    await api.data(
        "mutation($id: ID!) { deleteApiRoute(id: $id) { deletedId } }", {"id": route["createApiRoute"]["id"]}
    )
    await api.data('mutation { deleteFeature(key: "sso") { deletedId } }')
    # then: the feed has them in order, each once
    feed = await changes(api)
    assert [c["kind"] for c in feed] == [
        "FEATURE_CREATED",
        "FEATURE_CREATED",
        "FEATURE_UPDATED",
        "PLAN_CREATED",
        "PLAN_UPDATED",
        "TENANT_UPSERTED",
        "USER_UPSERTED",
        "MEMBERSHIP_ADDED",
        "ENTITLEMENT_GRANTED",
        "ENTITLEMENT_UPDATED",
        "ENTITLEMENT_REVOKED",
        "MEMBERSHIP_REMOVED",
        "FLAG_CREATED",
        "FLAG_DELETED",
        "ROUTE_CREATED",
        "ROUTE_DELETED",
        "FEATURE_DELETED",
    ]
    assert {c["actor"] for c in feed} == {"bootstrap"}
    revisions = [c["revision"] for c in feed]
    assert revisions == sorted(revisions)
    assert len(set(revisions)) == len(revisions)
    granted = feed[8]
    assert (granted["tenantKey"], granted["userKey"], granted["planKey"]) == ("acme", None, "pro")
    assert granted["entitlement"] == {"id": entitlement["id"]}
    assert granted["payload"]["planKey"] == "pro"
    assert granted["payload"]["startDate"] == START
    # the payload is the grant as the API shows it: no bookkeeping columns (the scheduler's marks)
    shown = {"assignLevel", "planVersion", "value", "startDate", "expirationDate", "revokedAt", "reason"}
    shown |= {"metadata", "createdAt", "updatedAt", "planKey", "featureKey", "tenantKey", "userKey"}
    assert set(granted["payload"]) == shown
    assert set(feed[9]["payload"]) == shown | {"before"}
    assert set(feed[9]["payload"]["before"]) == shown - {"planKey", "featureKey", "tenantKey", "userKey"}
    updated_feature = feed[2]["payload"]
    assert updated_feature["name"] == "Seats"
    assert updated_feature["before"]["name"] == "seats"
    assert feed[7]["payload"] == {"tenantKey": "acme", "userKey": "alice"}


async def test_a_failed_or_refused_write_appends_nothing(api: Api) -> None:
    await make_tenant(api, "acme")
    before = await changes(api)
    # an atomic batch with one bad item writes nothing, so appends nothing
    body = await api.gql(
        'mutation { upsertTenants(input: [{key: "ok"}, {key: "bad key!"}]) { errors { index } } }'
    )
    assert body["data"]["upsertTenants"]["errors"] == [{"index": 1}]
    error = await api.error(
        'mutation { createPlan(input: {key: "p", name: "P", features: [{featureKey: "nope", value: true}]}) { key } }'
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await changes(api) == before


async def test_a_mutation_answers_its_revision_and_a_read_with_it_reflects_the_write(
    api: Api, database_url: str
) -> None:
    # given: another process with the subject cached as not entitled
    await make_feature(api, "sso")
    await make_tenant(api, "acme")
    async with serving(database_url, entitle_cache_poll_ms=60_000) as other:
        args = {"t": "acme", "f": "sso"}
        assert (await other.data(DECIDE, args))["isEntitledTo"]["isEntitled"] is False
        # when: this process grants, and the client reads from the other process with the token
        body = await api.gql(
            'mutation { createEntitlement(input: {featureKey: "sso", tenantKey: "acme", '
            f'startDate: "{START}"}}) {{ id }} }}'
        )
        token = body["extensions"]["revision"]
        # then: the read reflects the write at once, though the other process would not poll for a minute
        assert (await other.data(DECIDE, {**args, "rev": token}))["isEntitledTo"]["isEntitled"] is True
        assert (await other.data("{ revision }"))["revision"] >= token


async def test_reads_carry_no_revision_and_a_malformed_token_is_bad_input(api: Api) -> None:
    body = await api.gql("{ viewer { kind } }")
    assert "revision" not in body.get("extensions", {})
    error = await api.error(DECIDE, {"t": "acme", "f": "sso", "rev": "yesterday"})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "minRevision"}


async def test_a_write_evicts_only_the_subjects_it_touches(api: Api) -> None:
    # given: two tenants with cached decisions
    await make_feature(api, "sso")
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    subjects = api.app.runtime.subjects
    await api.data(DECIDE, {"t": "acme", "f": "sso"})
    await api.data(DECIDE, {"t": "globex", "f": "sso"})
    assert subjects.peek("acme", None) is not None
    assert subjects.peek("globex", None) is not None
    # when: a provisioning write for acme only
    await grant(api, feature_key="sso", tenant_key="acme", start_date=START)
    # then: globex stays cached; acme is reloaded and sees the grant
    assert subjects.peek("globex", None) is not None
    assert subjects.peek("acme", None) is None
    assert (await api.data(DECIDE, {"t": "acme", "f": "sso"}))["isEntitledTo"]["isEntitled"] is True


async def test_another_process_evicts_the_touched_subject_from_the_feed(api: Api, database_url: str) -> None:
    await make_feature(api, "sso")
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "bob", ["acme"])
    async with serving(database_url) as other:
        for t, u in (("acme", None), ("acme", "bob"), ("globex", None)):
            await other.data(DECIDE, {"t": t, "u": u, "f": "sso"})
        feed = other.app.runtime.feed
        # when: this process grants acme (tenant level: acme and its members are stale)
        await grant(api, feature_key="sso", tenant_key="acme", start_date=START)
        written, checks = time.monotonic(), feed.checks
        while feed.checks < checks + 2:  # a read that began after the write has completed
            assert time.monotonic() - written < 2.0, "the change feed stopped reading"
            await asyncio.sleep(0.005)
        # then
        cache = other.app.runtime.subjects
        assert cache.peek("acme", None) is None
        assert cache.peek("acme", "bob") is None
        assert cache.peek("globex", None) is not None
        assert (await other.data(DECIDE, {"t": "acme", "u": "bob", "f": "sso"}))["isEntitledTo"]["isEntitled"]


async def test_changes_filter_by_kind_subject_and_revision_and_are_management_only(api: Api) -> None:
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "alice", ["acme"])
    everything = await changes(api)
    assert [c["kind"] for c in await changes(api, kinds=["USER_UPSERTED"])] == ["USER_UPSERTED"]
    assert [c["kind"] for c in await changes(api, tenantKeys=["acme"])] == [
        "TENANT_UPSERTED",
        "MEMBERSHIP_ADDED",
    ]
    after_first = await changes(api, afterRevision=everything[0]["revision"])
    assert after_first == everything[1:]
    node = await api.data(
        "query($id: ID!) { node(id: $id) { ... on Change { kind } } }", {"id": everything[0]["id"]}
    )
    assert node == {"node": {"kind": "TENANT_UPSERTED"}}
    error = await api.error(CHANGES, token=user_token("alice", "acme"))
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_another_process_keeps_serving_an_untouched_tenant_from_its_cache(
    api: Api, database_url: str
) -> None:
    # given: another process that has decided for acme, a member of acme and globex (all cached now)
    await make_feature(api, "sso")
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "bob", ["acme"])
    async with serving(database_url) as other:
        other.differential = False  # one lookup per decision, as counted
        subjects = (("acme", None), ("acme", "bob"), ("globex", None))
        for t, u in subjects:
            await other.data(DECIDE, {"t": t, "u": u, "f": "sso"})

        async def lookups(t: str, u: str | None, rev: str | None = None) -> tuple[float, float, bool]:
            """(subject cache hits, misses) counted by ``/metrics`` for one decision, and its answer."""
            before = (await other.client.get("/metrics")).text
            answer = await other.data(DECIDE, {"t": t, "u": u, "f": "sso", "rev": rev})
            after = (await other.client.get("/metrics")).text
            hits, misses = (
                value(after, CACHE_LOOKUPS, cache="subjects", result=r)
                - value(before, CACHE_LOOKUPS, cache="subjects", result=r)
                for r in ("hit", "miss")
            )
            return hits, misses, answer["isEntitledTo"]["isEntitled"]

        assert [await lookups(t, u) for t, u in subjects] == [(1, 0, False)] * 3
        # when: this process grants acme (tenant level), and the other one has applied it
        body = await api.gql(
            f'mutation {{ createEntitlement(input: {{featureKey: "sso", tenantKey: "acme", startDate: "{START}"}}) '
            "{ id } }"
        )
        token = body["extensions"]["revision"]
        # then: globex is still answered from the cache; acme and its member are loaded afresh
        assert await lookups("globex", None, token) == (1, 0, False)
        assert await lookups("acme", "bob", token) == (0, 1, True)
        assert await lookups("acme", None, token) == (0, 1, True)
        assert await lookups("acme", None) == (1, 0, True)
