"""Every mutation of the schema, table-driven (contract §9): the exact changes a representative call
appends (kinds and keys, read back through ``Query.changes``), its ``extensions.revision``, and that
its refused variant (an atomic batch with one bad item, a missing or conflicting key) appends none.

``test_every_mutation_of_the_schema_has_a_row`` introspects the served schema, so a new mutation
without a row here fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import Api, serving

Ids = dict[str, str]
Keys = tuple[str, str | None, str | None, str | None, str | None]
"""(kind, tenantKey, userKey, featureKey, planKey) of one change."""

MUTATION_FIELDS = "{ __schema { mutationType { fields { name } } } }"
CHANGES_AFTER = """
query($after: String) {
  changes(filter: {afterRevision: $after}, first: 500) {
    edges { node { revision kind actor tenantKey userKey featureKey planKey } }
  }
}
"""

# One request (mutations run in order) builds what every row acts on.
GIVEN = """
mutation {
  sso: createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key }
  seats: createFeature(input: {key: "seats", name: "Seats", type: LIMIT}) { key }
  calls: createFeature(input: {key: "calls", name: "Calls", type: LIMIT, resetPeriod: MONTH}) { key }
  spareFeature: createFeature(input: {key: "spare", name: "Spare", type: BOOLEAN}) { key }
  pro: createPlan(input: {key: "pro", name: "Pro", features: [{featureKey: "seats", value: 10},
                                                               {featureKey: "calls", value: 3}]}) { key }
  sparePlan: createPlan(input: {key: "team", name: "Team", features: [{featureKey: "seats", value: 20}]}) {
    key
  }
  upsertTenants(input: [{key: "acme"}, {key: "globex"}]) { errors { index } }
  upsertUsers(input: [{key: "alice", tenantKeys: ["acme"]}, {key: "bob"}]) { errors { index } }
  createEntitlement(input: {planKey: "pro", tenantKey: "acme", startDate: "2020-01-01T00:00:00Z"}) { id }
  createFeatureFlag(input: {key: "beta", name: "Beta", on: true, featureKeys: ["sso"]}) { key }
  createApiRoute(input: {method: "GET", pathPattern: "/reports", policy: ALLOW}) { id }
  createWebhookEndpoint(input: {url: "http://127.0.0.1:9/hook", events: ["*"]}) { endpoint { id } }
}
"""
SEND_TEST_WEBHOOK = "mutation($id: ID!) { sendTestWebhook(endpointId: $id) { id } }"
CHANGES_OF_GIVEN = 14  # 4 features, 2 plans, 2 tenants, 2 users + 1 membership, 1 grant, 1 flag, 1 route


@dataclass(frozen=True)
class Row:
    """A representative call of ``mutation`` and exactly what it appends."""

    mutation: str
    document: str
    appends: list[Keys]
    refused: str | None = None
    """A variant that is refused (errors, or errors as data): it must append nothing."""
    prepare: str | None = None
    """A call made first (its id, if any, becomes ``ids["prepared"]``)."""
    variables: Callable[[Ids], dict[str, Any]] = field(default=lambda ids: {})
    name: str = ""

    @property
    def id(self) -> str:
        return self.name or self.mutation


def row(mutation: str, document: str, *appends: Keys, **options: Any) -> Row:
    return Row(mutation, document, list(appends), **options)


def entitlement(ids: Ids) -> dict[str, Any]:
    return {"id": ids["entitlement"]}


def endpoint(ids: Ids) -> dict[str, Any]:
    return {"id": ids["endpoint"]}


def prepared(ids: Ids) -> dict[str, Any]:
    return {"id": ids["prepared"]}


ROWS = [
    row(
        "createFeature",
        'mutation { createFeature(input: {key: "api", name: "API", type: BOOLEAN}) { key } }',
        ("FEATURE_CREATED", None, None, "api", None),
        refused='mutation { createFeature(input: {key: "sso", name: "Again", type: BOOLEAN}) { key } }',
    ),
    row(
        "updateFeature",
        'mutation { updateFeature(key: "seats", input: {name: "Seats!"}) { key } }',
        ("FEATURE_UPDATED", None, None, "seats", None),
        refused='mutation { updateFeature(key: "nope", input: {name: "N"}) { key } }',
    ),
    row(
        "deleteFeature",
        'mutation { deleteFeature(key: "spare") { deletedId } }',
        ("FEATURE_DELETED", None, None, "spare", None),
        refused='mutation { deleteFeature(key: "seats") { deletedId } }',  # a plan uses it: CONFLICT
    ),
    row(
        "createPlan",
        'mutation { createPlan(input: {key: "solo", name: "Solo", features: [{featureKey: "sso", value: true}]}) { key } }',
        ("PLAN_CREATED", None, None, None, "solo"),
        refused='mutation { createPlan(input: {key: "x", name: "X", features: [{featureKey: "nope", value: true}]}) { key } }',
    ),
    row(
        "updatePlan",
        'mutation { updatePlan(key: "pro", input: {features: [{featureKey: "seats", value: 20}]}) { key } }',
        ("PLAN_UPDATED", None, None, None, "pro"),
        refused='mutation { updatePlan(key: "pro", input: {features: [{featureKey: "nope", value: true}]}) { key } }',
    ),
    row(
        "deletePlan",
        'mutation { deletePlan(key: "team") { deletedId } }',
        ("PLAN_DELETED", None, None, None, "team"),
        refused='mutation { deletePlan(key: "pro") { deletedId } }',  # an entitlement uses it: CONFLICT
    ),
    row(
        "upsertTenants",
        'mutation { upsertTenants(input: [{key: "initech"}, {key: "acme", name: "Acme"}]) { errors { index } } }',
        ("TENANT_UPSERTED", "initech", None, None, None),
        ("TENANT_UPSERTED", "acme", None, None, None),
        refused='mutation { upsertTenants(input: [{key: "ok"}, {key: "bad key!"}]) { errors { index } } }',
    ),
    row(
        "upsertUsers",
        'mutation { upsertUsers(input: [{key: "carol", tenantKeys: ["acme", "globex"]}]) { errors { index } } }',
        ("USER_UPSERTED", None, "carol", None, None),
        ("MEMBERSHIP_ADDED", "acme", "carol", None, None),
        ("MEMBERSHIP_ADDED", "globex", "carol", None, None),
        refused=(
            'mutation { upsertUsers(input: [{key: "dave", tenantKeys: ["acme"]}, {key: "eve", tenantKeys: ["nope"]}])'
            " { errors { index } } }"
        ),
    ),
    row(
        "addMembers",
        'mutation { addMembers(tenantKey: "acme", userKeys: ["bob", "alice"]) { key } }',
        ("MEMBERSHIP_ADDED", "acme", "bob", None, None),  # alice is a member already: no change
        refused='mutation { addMembers(tenantKey: "acme", userKeys: ["bob", "nobody"]) { key } }',
    ),
    row(
        "removeMembers",
        'mutation { removeMembers(tenantKey: "acme", userKeys: ["alice", "bob"]) { key } }',
        ("MEMBERSHIP_REMOVED", "acme", "alice", None, None),  # bob is not a member: no change
        refused='mutation { removeMembers(tenantKey: "nope", userKeys: ["alice"]) { key } }',
    ),
    row(
        "createEntitlement",
        'mutation { createEntitlement(input: {featureKey: "sso", tenantKey: "acme", userKey: "alice"}) { id } }',
        ("ENTITLEMENT_GRANTED", "acme", "alice", "sso", None),
        refused='mutation { createEntitlement(input: {planKey: "nope", tenantKey: "acme"}) { id } }',
    ),
    row(
        "batchCreateEntitlements",
        'mutation { batchCreateEntitlements(input: [{planKey: "team", tenantKey: "globex"}, '
        '{featureKey: "sso", userKey: "bob"}]) { errors { index } } }',
        ("ENTITLEMENT_GRANTED", "globex", None, None, "team"),
        ("ENTITLEMENT_GRANTED", None, "bob", "sso", None),
        refused='mutation { batchCreateEntitlements(input: [{planKey: "team", tenantKey: "globex"}, '
        '{planKey: "nope", tenantKey: "globex"}]) { errors { index } } }',
    ),
    row(
        "updateEntitlement",
        'mutation($id: ID!) { updateEntitlement(id: $id, input: {reason: "renewal"}) { id } }',
        ("ENTITLEMENT_UPDATED", "acme", None, None, "pro"),
        refused='mutation { updateEntitlement(id: "RW50aXRsZW1lbnQ6OTk5OTk=", input: {reason: "r"}) { id } }',
        variables=entitlement,
    ),
    row(
        "revokeEntitlements",
        "mutation($id: ID!) { revokeEntitlements(ids: [$id]) { revokedCount } }",
        ("ENTITLEMENT_REVOKED", "acme", None, None, "pro"),
        refused='mutation { revokeEntitlements(ids: ["RW50aXRsZW1lbnQ6OTk5OTk="]) { revokedCount } }',
        variables=entitlement,
    ),
    row(
        "createFeatureFlag",
        'mutation { createFeatureFlag(input: {key: "gamma", name: "G", on: false, featureKeys: ["sso"]}) { key } }',
        ("FLAG_CREATED", None, None, None, None),
        refused='mutation { createFeatureFlag(input: {key: "beta", name: "B", on: true, featureKeys: ["sso"]}) '
        "{ key } }",
    ),
    row(
        "updateFeatureFlag",
        'mutation { updateFeatureFlag(key: "beta", input: {key: "beta", name: "B", on: false, featureKeys: ["sso"]}) '
        "{ key } }",
        ("FLAG_UPDATED", None, None, None, None),
        refused='mutation { updateFeatureFlag(key: "nope", input: {key: "nope", name: "N", on: true, '
        'featureKeys: ["sso"]}) { key } }',
    ),
    row(
        "deleteFeatureFlag",
        'mutation { deleteFeatureFlag(key: "beta") { deletedId } }',
        ("FLAG_DELETED", None, None, None, None),
        refused='mutation { deleteFeatureFlag(key: "nope") { deletedId } }',
    ),
    row(
        "createApiRoute",
        'mutation { createApiRoute(input: {method: "POST", pathPattern: "/sso", policy: REQUIRE_FEATURE, '
        'featureKey: "sso"}) { id } }',
        ("ROUTE_CREATED", None, None, "sso", None),
        refused='mutation { createApiRoute(input: {method: "GET", pathPattern: "/x", policy: REQUIRE_FEATURE, '
        'featureKey: "nope"}) { id } }',
    ),
    row(
        "deleteApiRoute",
        "mutation($id: ID!) { deleteApiRoute(id: $id) { deletedId } }",
        ("ROUTE_DELETED", None, None, None, None),
        refused='mutation { deleteApiRoute(id: "QXBpUm91dGU6OTk5OTk=") { deletedId } }',
        variables=lambda ids: {"id": ids["route"]},
    ),
    # Metered consumption writes a counter, not a change (no kind records it), so no revision either.
    row(
        "reportUsage",
        'mutation { reportUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 1, idempotencyKey: "k1"}) '
        "{ isEntitled } }",
    ),
    row(
        "reportUsage",
        'mutation { reportUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 1, idempotencyKey: "k2"}) '
        "{ isEntitled } }",
        ("USAGE_LIMIT_EXCEEDED", "acme", None, "calls", None),
        prepare='mutation { reportUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 3, '
        'idempotencyKey: "k1"}) { isEntitled } }',
        name="reportUsage-refused-under-BLOCK",
    ),
    # Webhook endpoint management appends no change and answers no revision (contract §9).
    row(
        "createWebhookEndpoint",
        'mutation { createWebhookEndpoint(input: {url: "http://127.0.0.1:9/other", events: ["*"]}) '
        "{ endpoint { id } } }",
    ),
    row(
        "updateWebhookEndpoint",
        'mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {url: "http://127.0.0.1:9/h", events: ["*"]}) '
        "{ id } }",
        variables=endpoint,
    ),
    row(
        "deleteWebhookEndpoint",
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId } }",
        variables=endpoint,
    ),
    row(
        "rotateWebhookSecret",
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
        variables=endpoint,
    ),
    row("sendTestWebhook", SEND_TEST_WEBHOOK, variables=endpoint),
    row(
        "redeliverWebhook",
        "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }",
        variables=lambda ids: {"id": ids["delivery"]},
    ),
    # Contract §11.
    row(
        "publishPlanVersion",
        'mutation { publishPlanVersion(key: "pro", features: [{featureKey: "seats", value: 30}]) { key } }',
        ("PLAN_UPDATED", None, None, None, "pro"),
    ),
    row(
        "migratePlanEntitlements",
        'mutation { migratePlanEntitlements(key: "pro", fromVersion: 1, toVersion: 2) { migratedCount } }',
        ("ENTITLEMENT_UPDATED", "acme", None, None, "pro"),
        prepare='mutation { publishPlanVersion(key: "pro", features: [{featureKey: "seats", value: 30}]) { key } }',
    ),
    row(
        "changePlan",
        'mutation($id: ID!) { changePlan(entitlementId: $id, toPlanKey: "team") { started { id } } }',
        ("ENTITLEMENT_UPDATED", "acme", None, None, "pro"),  # the old grant ends now
        ("ENTITLEMENT_GRANTED", "acme", None, None, "team"),
        variables=entitlement,
    ),
    row(
        "reserveUsage",
        'mutation { reserveUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 1, idempotencyKey: "r"}) '
        "{ id } }",
    ),
    row(
        "commitUsage",
        "mutation($id: ID!) { commitUsage(reservationId: $id) { status } }",
        prepare='mutation { reserveUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 1, '
        'idempotencyKey: "r"}) { id } }',
        variables=prepared,
    ),
    row(
        "releaseUsage",
        "mutation($id: ID!) { releaseUsage(reservationId: $id) { status } }",
        prepare='mutation { reserveUsage(input: {tenantKey: "acme", featureKey: "calls", amount: 1, '
        'idempotencyKey: "r"}) { id } }',
        variables=prepared,
    ),
]


def as_keys(change: dict[str, Any]) -> Keys:
    return (change["kind"], change["tenantKey"], change["userKey"], change["featureKey"], change["planKey"])


async def changes_after(api: Api, revision: str) -> list[dict[str, Any]]:
    data = await api.data(CHANGES_AFTER, {"after": revision})
    return [edge["node"] for edge in data["changes"]["edges"]]


async def given(api: Api) -> tuple[Ids, str]:
    """The catalog, subjects, grant, flag, route, webhook endpoint and delivery every row acts on, and
    the revision of the last change they appended."""
    body = await api.gql(GIVEN)
    assert "errors" not in body, body["errors"]
    data = body["data"]
    ids = {
        "entitlement": data["createEntitlement"]["id"],
        "route": data["createApiRoute"]["id"],
        "endpoint": data["createWebhookEndpoint"]["endpoint"]["id"],
    }
    ids["delivery"] = (await api.data(SEND_TEST_WEBHOOK, {"id": ids["endpoint"]}))["sendTestWebhook"]["id"]
    # one request of many mutations answers the revision of its last change
    appended = await changes_after(api, "0" * 32)
    assert len(appended) == CHANGES_OF_GIVEN
    assert body["extensions"]["revision"] == appended[-1]["revision"]
    return ids, appended[-1]["revision"]


def refusal(body: dict[str, Any]) -> bool:
    """An error, or errors as data in the payload (batches), or nothing revoked."""
    if body.get("errors"):
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert not codes & {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}, body  # a real refusal
        return True
    (payload,) = body["data"].values()
    return bool(payload.get("errors")) or payload.get("revokedCount") == 0


async def test_every_mutation_of_the_schema_has_a_row(api: Api) -> None:
    fields = (await api.data(MUTATION_FIELDS))["__schema"]["mutationType"]["fields"]
    assert {f["name"] for f in fields} == {r.mutation for r in ROWS}


@pytest.mark.parametrize("case", [pytest.param(r, id=r.id) for r in ROWS])
async def test_a_mutation_appends_exactly_its_changes_and_answers_their_revision(
    database_url: str, case: Row
) -> None:
    async with serving(database_url, entitle_webhook_allow_private=True) as api:
        # given
        ids, before = await given(api)
        if case.prepare is not None:
            first = await api.gql(case.prepare)
            assert "errors" not in first, first["errors"]
            (payload,) = first["data"].values()
            ids["prepared"] = payload.get("id", "") if isinstance(payload, dict) else ""
            before = (await changes_after(api, before) or [{"revision": before}])[-1]["revision"]
        # when
        body = await api.gql(case.document, case.variables(ids))
        # then
        assert "errors" not in body, body["errors"]
        appended = await changes_after(api, before)
        assert [as_keys(c) for c in appended] == case.appends
        assert {c["actor"] for c in appended} <= {"bootstrap"}
        extensions = body.get("extensions", {})
        if case.appends:
            assert extensions["revision"] == appended[-1]["revision"]
        else:
            assert "revision" not in extensions
        if case.refused is not None:
            await assert_refused_appends_nothing(
                api, case.refused, appended[-1]["revision"] if appended else before
            )


async def assert_refused_appends_nothing(api: Api, document: str, last: str) -> None:
    body = await api.gql(document)
    assert refusal(body), body
    assert "revision" not in body.get("extensions", {})
    assert await changes_after(api, last) == []
