"""The decision log (contract §12): ENTITLE_DECISION_LOG=off|denied|all, written asynchronously, read by
management as ``decisionLog`` (newest first), bounded in memory, kept ENTITLE_DECISION_LOG_DAYS days."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from entitle.services.background import decision_log as writer
from tests.conftest import Api, serving
from tests.factories import grant, make_feature, make_tenant, make_user
from tests.graphql.test_user_tokens import user_token
from tests.operations.test_metrics import value

ASK = """
query($t: String, $u: String, $f: String, $p: String, $r: RouteInput, $n: Int) {
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f, permissionKey: $p, route: $r, usage: $n) {
    isEntitled justification
  }
}
"""
LOG = """
query($first: Int, $after: String, $filter: DecisionLogFilter) {
  decisionLog(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id at tenantKey userKey featureKey permissionKey route { method path } isEntitled justification usage actor
    } }
  }
}
"""


@asynccontextmanager
async def logging_api(database_url: str, mode: str, **overrides: Any) -> AsyncIterator[Api]:
    async with serving(
        database_url, entitle_decision_log=mode, entitle_decision_log_flush_ms=60_000, **overrides
    ) as api:
        api.differential = False  # each decision asked once, as recorded
        yield api


async def given_acme(api: Api) -> None:
    await make_feature(api, "reports")
    await make_feature(api, "sso")
    await make_tenant(api, "acme")
    await make_user(api, "alice", ["acme"])
    await grant(api, feature_key="reports", tenant_key="acme")


async def entries(api: Api, **variables: Any) -> list[dict[str, Any]]:
    runtime = api.app.runtime
    assert runtime.decision_log is not None
    await runtime.decision_log.flush()
    data = await api.data(LOG, variables)
    return [edge["node"] for edge in data["decisionLog"]["edges"]]


async def test_every_decision_is_recorded_newest_first_with_who_asked(database_url: str) -> None:
    async with logging_api(database_url, "all") as api:
        # given
        await given_acme(api)
        # when
        await api.data(ASK, {"t": "acme", "f": "reports"})
        await api.data(ASK, {"t": "acme", "u": "alice", "f": "sso", "n": 2})
        await api.data(ASK, {"t": "acme", "r": {"method": "GET", "path": "/api/x"}})
        await api.data(ASK, {"t": "acme", "u": "alice", "f": "reports"}, token=user_token("alice", "acme"))
        logged = await entries(api)
    # then
    assert [(e["featureKey"], e["isEntitled"], e["justification"]) for e in logged] == [
        ("reports", True, None),
        (None, False, "MISSING_ROUTE"),
        ("sso", False, "MISSING_FEATURE"),
        ("reports", True, None),
    ]
    assert logged[0]["actor"] == "user:alice"
    assert logged[1]["route"] == {"method": "GET", "path": "/api/x"}
    assert logged[2] | {"id": None, "at": None} == {
        "id": None,
        "at": None,
        "tenantKey": "acme",
        "userKey": "alice",
        "featureKey": "sso",
        "permissionKey": None,
        "route": None,
        "isEntitled": False,
        "justification": "MISSING_FEATURE",
        "usage": 2,
        "actor": "bootstrap",
    }
    assert logged[3]["at"] <= logged[0]["at"]


async def test_the_log_is_filtered_and_paged(database_url: str) -> None:
    async with logging_api(database_url, "all") as api:
        # given
        await given_acme(api)
        await make_tenant(api, "beta")
        before = datetime.now(UTC) - timedelta(seconds=1)
        for _ in range(3):
            await api.data(ASK, {"t": "acme", "f": "reports"})
        await api.data(ASK, {"t": "beta", "f": "reports"})
        await api.data(ASK, {"t": "acme", "f": "sso"})
        await entries(api)
        # when
        acme = await api.data(LOG, {"filter": {"tenantKeys": ["acme"]}, "first": 2})
        page = acme["decisionLog"]
        rest = await api.data(
            LOG, {"filter": {"tenantKeys": ["acme"]}, "first": 10, "after": page["pageInfo"]["endCursor"]}
        )
        denied = await entries(api, filter={"justifications": ["MISSING_FEATURE", "LIMIT_EXCEEDED"]})
        sso = await entries(api, filter={"featureKeys": ["sso"], "since": before.isoformat()})
        granted = await entries(api, filter={"isEntitled": True, "tenantKeys": ["beta"]})
        future = await entries(api, filter={"since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
        past = await entries(api, filter={"until": before.isoformat()})
    # then
    assert page["totalCount"] == 4
    assert page["pageInfo"]["hasNextPage"] is True
    assert len(rest["decisionLog"]["edges"]) == 2
    assert [(e["tenantKey"], e["featureKey"]) for e in denied] == [("acme", "sso"), ("beta", "reports")]
    assert [e["featureKey"] for e in sso] == ["sso"]
    assert granted == []  # beta has no grant
    assert future == []
    assert past == []


async def test_denied_mode_records_only_refusals(database_url: str) -> None:
    async with logging_api(database_url, "denied") as api:
        # given
        await given_acme(api)
        # when
        await api.data(ASK, {"t": "acme", "f": "reports"})
        await api.data(ASK, {"t": "acme", "f": "sso"})
        logged = await entries(api)
    # then
    assert [(e["featureKey"], e["justification"]) for e in logged] == [("sso", "MISSING_FEATURE")]


async def test_nothing_is_recorded_when_off_and_the_log_reads_empty(api: Api) -> None:
    # given
    await given_acme(api)
    # when
    await api.data(ASK, {"t": "acme", "f": "reports"})
    data = await api.data(LOG, {})
    # then
    assert api.app.runtime.decision_log is None
    assert data["decisionLog"]["totalCount"] == 0


async def test_an_entry_is_a_node_and_the_log_is_management_only(database_url: str) -> None:
    async with logging_api(database_url, "all") as api:
        # given
        await given_acme(api)
        await api.data(ASK, {"t": "acme", "f": "reports"})
        [entry] = await entries(api)
        # when
        node = await api.data(
            "query($id: ID!) { node(id: $id) { ... on DecisionLogEntry { id featureKey } } }",
            {"id": entry["id"]},
        )
        refused = await api.error(LOG, token=user_token("alice", "acme"))
    # then
    assert node["node"] == {"id": entry["id"], "featureKey": "reports"}
    assert refused["extensions"]["code"] == "FORBIDDEN"


async def test_a_full_queue_drops_and_counts_instead_of_growing(database_url: str) -> None:
    async with logging_api(database_url, "all", entitle_decision_log_queue=2) as api:
        # given
        await given_acme(api)
        before = (await api.client.get("/metrics")).text
        # when
        for _ in range(5):
            body = await api.data(ASK, {"t": "acme", "f": "reports"})
            assert body["isEntitledTo"]["isEntitled"] is True  # answered regardless
        after = (await api.client.get("/metrics")).text
        logged = await entries(api)
    # then
    assert len(logged) == 2
    dropped = value(after, "entitle_decision_log_dropped_total") - value(
        before, "entitle_decision_log_dropped_total"
    )
    assert dropped == 3


async def test_the_background_writer_flushes_on_its_own(database_url: str) -> None:
    async with serving(database_url, entitle_decision_log="all", entitle_decision_log_flush_ms=20) as api:
        api.differential = False
        # given
        await given_acme(api)
        # when
        await api.data(ASK, {"t": "acme", "f": "reports"})
        log = api.app.runtime.decision_log
        assert log is not None
        for _ in range(200):
            if log.written:
                break
            await asyncio.sleep(0.02)
        data = await api.data(LOG, {})
    # then
    assert data["decisionLog"]["totalCount"] == 1


async def test_entries_older_than_the_retention_are_deleted(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with logging_api(database_url, "all", entitle_decision_log_days=1) as api:
        # given: one decision recorded 3 days ago, one now
        await given_acme(api)
        three_days_ago = datetime.now(UTC) - timedelta(days=3)
        monkeypatch.setattr(writer, "now", lambda: three_days_ago)
        await api.data(ASK, {"t": "acme", "f": "sso"})
        monkeypatch.undo()
        await api.data(ASK, {"t": "acme", "f": "reports"})
        log = api.app.runtime.decision_log
        assert log is not None
        await log.flush()
        # when
        deleted = await log.delete_expired()
        again = await log.delete_expired()  # within RETENTION_EVERY: nothing to claim
        logged = await entries(api)
    # then
    assert deleted == 1
    assert again == 0
    assert [e["featureKey"] for e in logged] == ["reports"]
