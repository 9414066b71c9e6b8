"""Who may call (§2): management keys, read-only keys, user JWTs, and every way across tenants."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from entitle.auth import create_api_key
from tests.conftest import ADMIN_KEY, JWT_SECRET, Api, serving
from tests.factories import (
    CREATE_FEATURE,
    UPSERT_TENANTS,
    grant,
    make_feature,
    make_plan,
    make_tenant,
    make_user,
)

VIEWER = "{ viewer { kind name tenantKey userKey readOnly } }"
ENTITLEMENTS = """
query($filter: EntitlementFilter) {
  entitlements(filter: $filter) { totalCount edges { node { reason assignLevel tenant { key } user { key } } } }
}
"""
IS_ENTITLED = """
query($t: String, $u: String) { isEntitledTo(tenantKey: $t, userKey: $u, featureKey: "sso") { isEntitled } }
"""
EFFECTIVE = """
query($t: String, $u: String) { effectiveEntitlements(tenantKey: $t, userKey: $u) { features { feature { key } } } }
"""
FORBIDDEN_FOR_USERS = {
    "feature": '{ feature(key: "sso") { key } }',
    "features": "{ features { totalCount } }",
    "plan": '{ plan(key: "pro") { key } }',
    "plans": "{ plans { totalCount } }",
    "tenant": '{ tenant(key: "acme") { key } }',
    "tenants": "{ tenants { totalCount } }",
    "user": '{ user(key: "ann") { key } }',
    "users": "{ users { totalCount } }",
    "featureFlags": "{ featureFlags { totalCount } }",
    "featureFlag": '{ featureFlag(key: "beta") { key } }',
    "apiRoutes": "{ apiRoutes { totalCount } }",
    "node": '{ node(id: "VGVuYW50OjE=") { id } }',
    "nodes": '{ nodes(ids: ["VGVuYW50OjE="]) { id } }',
    "nested members": "{ entitlements { edges { node { tenant { key members { totalCount } } } } } }",
    "nested tenant entitlements": "{ entitlements { edges { node { tenant { entitlements { totalCount } } } } } }",
    "nested plan entitlements": "{ entitlements { edges { node { plan { entitlements { totalCount } } } } } }",
    "nested user tenants": "{ entitlements { edges { node { user { tenants { totalCount } } } } } }",
    "effective tenant members": "{ effectiveEntitlements { tenant { members { totalCount } } } }",
    "source plan entitlements": (
        '{ isEntitledTo(featureKey: "sso") { sources { plan { entitlements { totalCount } } } } }'
    ),
    "createFeature": 'mutation { createFeature(input: {key: "x", name: "X", type: BOOLEAN}) { key } }',
    "upsertTenants": 'mutation { upsertTenants(input: [{key: "acme", name: "mine"}]) { errors { code } } }',
    "addMembers": 'mutation { addMembers(tenantKey: "globex", userKeys: ["ann"]) { key } }',
    "createEntitlement": 'mutation { createEntitlement(input: {planKey: "pro", tenantKey: "acme"}) { id } }',
    "batchCreateEntitlements": (
        'mutation { batchCreateEntitlements(input: [{planKey: "pro", tenantKey: "acme"}]) { errors { code } } }'
    ),
    "revokeEntitlements": 'mutation { revokeEntitlements(ids: ["RW50aXRsZW1lbnQ6MQ=="]) { revokedCount } }',
    "updateEntitlement": (
        'mutation { updateEntitlement(id: "RW50aXRsZW1lbnQ6MQ==", input: {reason: "x"}) { id } }'
    ),
    "reportUsage": (
        'mutation { reportUsage(input: {featureKey: "sso", amount: 1, idempotencyKey: "k"}) { isEntitled } }'
    ),
    "reserveUsage": (
        'mutation { reserveUsage(input: {featureKey: "sso", amount: 1, idempotencyKey: "k"}) { status } }'
    ),
    "commitUsage": 'mutation { commitUsage(reservationId: "VXNhZ2VSZXNlcnZhdGlvbjox") { status } }',
    "releaseUsage": 'mutation { releaseUsage(reservationId: "VXNhZ2VSZXNlcnZhdGlvbjox") { status } }',
    "usageRecords": "{ usageRecords { totalCount } }",
}


def user_token(
    user: str | None = "ann",
    tenant: str | None = "acme",
    *,
    secret: Any = JWT_SECRET,
    algorithm: str = "HS256",
    expires_in: float | None = 300,
    **claims: Any,
) -> str:
    payload: dict[str, Any] = {**claims}
    if user is not None:
        payload["sub"] = user
    if tenant is not None:
        payload["tenantId"] = tenant
    if expires_in is not None:
        payload["exp"] = int(time.time() + expires_in)
    return jwt.encode(payload, secret, algorithm=algorithm)


def _part(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _hmac_signed(secret: str) -> str:
    """An HS256 token keyed with ``secret`` (PyJWT refuses to sign with a PEM, an attacker would not)."""
    payload = {"sub": "ann", "tenantId": "acme", "exp": int(time.time()) + 600}
    signing_input = f"{_part({'alg': 'HS256', 'typ': 'JWT'})}.{_part(payload)}"
    digest = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _unsigned(payload: dict[str, Any]) -> str:
    return f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(payload)}."


@pytest.fixture
async def make_api(database_url: str) -> AsyncIterator[Any]:
    """Builds extra APIs on the test's database with other settings; stops them at the end."""
    async with AsyncExitStack() as stack:

        async def build(**overrides: Any) -> Api:
            return await stack.enter_async_context(serving(database_url, **overrides))

        yield build


async def _two_tenants(api: Api) -> dict[str, str]:
    """acme (ann, bob) and globex (carl); ann is also in globex. Grants are named by their reason."""
    await make_feature(api, "sso")
    await make_plan(api, "pro", {"sso": True})
    await make_tenant(api, "acme")
    await make_tenant(api, "globex")
    await make_user(api, "ann", ["acme", "globex"])
    await make_user(api, "bob", ["acme"])
    await make_user(api, "carl", ["globex"])
    await make_user(api, "solo")
    ids = {}
    for reason, kwargs in {
        "acme": {"tenant_key": "acme"},
        "acme-ann": {"tenant_key": "acme", "user_key": "ann"},
        "acme-bob": {"tenant_key": "acme", "user_key": "bob"},
        "globex": {"tenant_key": "globex"},
        "globex-ann": {"tenant_key": "globex", "user_key": "ann"},
        "globex-carl": {"tenant_key": "globex", "user_key": "carl"},
        "ann-individual": {"user_key": "ann"},
        "solo-individual": {"user_key": "solo"},
    }.items():
        ids[reason] = (await grant(api, plan_key="pro", reason=reason, **kwargs))["id"]
    return ids


def _reasons(data: dict[str, Any]) -> set[str]:
    return {edge["node"]["reason"] for edge in data["entitlements"]["edges"]}


# --------------------------------------------------------------------------- management keys


async def test_a_request_without_a_token_is_401_unauthenticated(api: Api) -> None:
    # when
    response = await api.post(VIEWER, token=None)
    # then
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


BAD_HEADERS = [
    "Bearer not-a-key",
    "Bearer ent_unknown",
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer a.b.c",
    ADMIN_KEY,
]


async def test_a_bad_authorization_header_is_401_unauthenticated(api: Api) -> None:
    for header in BAD_HEADERS:
        # when
        response = await api.client.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": header}
        )
        # then
        assert response.status_code == 401, header
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert ADMIN_KEY not in response.text


async def test_the_management_key_sees_a_management_viewer(api: Api) -> None:
    data = await api.data(VIEWER)
    assert data["viewer"]["kind"] == "MANAGEMENT"
    assert data["viewer"]["readOnly"] is False
    assert data["viewer"]["tenantKey"] is None


async def test_a_read_only_key_can_query_but_not_mutate(api: Api) -> None:
    # given
    secret = await create_api_key(api.app.runtime.database, "dashboard", read_only=True)
    await make_feature(api, "sso")
    # when
    viewer = await api.data(VIEWER, token=secret)
    features = await api.data("{ features { edges { node { key } } } }", token=secret)
    create = await api.error(
        CREATE_FEATURE, {"input": {"key": "x", "name": "X", "type": "BOOLEAN"}}, token=secret
    )
    upsert = await api.error(UPSERT_TENANTS, {"input": [{"key": "acme"}]}, token=secret)
    # then
    assert viewer["viewer"] == {
        "kind": "MANAGEMENT",
        "name": "dashboard",
        "tenantKey": None,
        "userKey": None,
        "readOnly": True,
    }
    assert [e["node"]["key"] for e in features["features"]["edges"]] == ["sso"]
    assert create["extensions"]["code"] == "FORBIDDEN"
    assert upsert["extensions"]["code"] == "FORBIDDEN"
    assert (await api.data("{ features { totalCount } tenants { totalCount } }")) == {
        "features": {"totalCount": 1},
        "tenants": {"totalCount": 0},
    }


# --------------------------------------------------------------------------- bad JWTs


def _quietly(make: Any) -> str:
    """A token whose making warns (e.g. a short HMAC key for HS512), without the warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token: str = make()
    return token


BAD_TOKENS = {
    "expired": user_token(expires_in=-60),
    "bad-signature": user_token(secret="another-secret-that-is-long-enough-for-hs256"),
    "alg-none": _unsigned({"sub": "ann", "tenantId": "acme", "exp": int(time.time()) + 600}),
    "missing-exp": user_token(expires_in=None),
    "missing-sub": user_token(user=None),
    "empty-sub": user_token(user=""),
    "non-string-tenant": user_token(tenant=None, tenantId=42),
    "not-yet-valid": user_token(nbf=int(time.time()) + 600),
    "tampered": user_token()[:-3] + "abc",
    "other-hmac-alg": _quietly(lambda: user_token(algorithm="HS512")),
}


async def test_a_bad_user_token_is_401_unauthenticated(api: Api) -> None:
    for name, token in BAD_TOKENS.items():
        # when
        response = await api.post(VIEWER, token=token)
        # then
        assert response.status_code == 401, name
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert JWT_SECRET not in response.text


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
async def test_a_numeric_date_claim_that_is_a_string_is_401_unauthenticated(api: Api, claim: str) -> None:
    """RFC 7519: exp, nbf and iat are NumericDates (numbers); PyJWT alone would read "1234" with int()."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "ann", "tenantId": "acme", "exp": now + 600}
    claims[claim] = str(now + 600 if claim == "exp" else now - 60)
    response = await api.post(VIEWER, token=jwt.encode(claims, JWT_SECRET, algorithm="HS256"))
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert f"'{claim}' must be a number" in error["message"]
    claims[claim] = int(claims[claim])  # the same token with a number is accepted
    response = await api.post(VIEWER, token=jwt.encode(claims, JWT_SECRET, algorithm="HS256"))
    assert response.status_code == 200, response.text


async def test_a_wrong_audience_or_issuer_is_401_when_configured(make_api: Any) -> None:
    # given
    api = await make_api(entitle_jwt_audience="entitle", entitle_jwt_issuer="https://idp.example")
    good = user_token(aud="entitle", iss="https://idp.example")
    # when
    responses = [
        await api.post(VIEWER, token=user_token(aud="other", iss="https://idp.example")),
        await api.post(VIEWER, token=user_token(iss="https://idp.example")),
        await api.post(VIEWER, token=user_token(aud="entitle", iss="https://evil.example")),
        await api.post(VIEWER, token=user_token(aud="entitle")),
    ]
    # then
    assert [r.status_code for r in responses] == [401] * 4
    assert {r.json()["errors"][0]["extensions"]["code"] for r in responses} == {"UNAUTHENTICATED"}
    assert (await api.data(VIEWER, token=good))["viewer"]["userKey"] == "ann"


async def test_user_tokens_are_refused_when_no_jwt_key_is_configured(make_api: Any) -> None:
    api = await make_api(entitle_jwt_secret=None)
    response = await api.post(VIEWER, token=user_token())
    assert response.status_code == 401


def _rsa() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


def _ec() -> tuple[Any, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


@pytest.mark.parametrize(("make_key", "algorithm"), [(_rsa, "RS256"), (_ec, "ES256")])
async def test_rs256_and_es256_tokens_verify_with_the_configured_public_key(
    make_api: Any, make_key: Any, algorithm: str
) -> None:
    # given
    private, public = make_key()
    other_private, _ = make_key()
    api = await make_api(entitle_jwt_public_key=public, entitle_jwt_secret=None)
    # when
    good = await api.data(VIEWER, token=user_token(secret=private, algorithm=algorithm))
    forged = await api.post(VIEWER, token=user_token(secret=other_private, algorithm=algorithm))
    hmac_with_public_key = await api.post(VIEWER, token=_hmac_signed(public))
    # then
    assert good["viewer"] == {
        "kind": "USER",
        "name": "ann",
        "tenantKey": "acme",
        "userKey": "ann",
        "readOnly": False,
    }
    assert forged.status_code == 401
    assert hmac_with_public_key.status_code == 401


async def test_a_token_signed_with_the_other_asymmetric_algorithm_is_401_not_a_crash(make_api: Any) -> None:
    # given
    _, rsa_public = _rsa()
    ec_private, ec_public = _ec()
    rsa_private, _ = _rsa()
    rsa_api = await make_api(entitle_jwt_public_key=rsa_public, entitle_jwt_secret=None)
    ec_api = await make_api(entitle_jwt_public_key=ec_public, entitle_jwt_secret=None)
    # when
    es_on_rsa = await rsa_api.post(VIEWER, token=user_token(secret=ec_private, algorithm="ES256"))
    rs_on_ec = await ec_api.post(VIEWER, token=user_token(secret=rsa_private, algorithm="RS256"))
    # then
    assert es_on_rsa.status_code == 401
    assert rs_on_ec.status_code == 401
    assert es_on_rsa.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await rsa_api.post(VIEWER)).status_code == 200


async def test_a_custom_tenant_claim_names_the_tenant(make_api: Any) -> None:
    api = await make_api(entitle_tenant_claim="org")
    data = await api.data(VIEWER, token=user_token(tenant=None, org="globex"))
    assert (data["viewer"]["tenantKey"], data["viewer"]["userKey"]) == ("globex", "ann")


# --------------------------------------------------------------------------- user tokens


async def test_a_user_token_viewer_shows_its_keys(api: Api) -> None:
    data = await api.data(VIEWER, token=user_token("ann", "acme"))
    assert data["viewer"] == {
        "kind": "USER",
        "name": "ann",
        "tenantKey": "acme",
        "userKey": "ann",
        "readOnly": False,
    }


async def test_a_user_token_sees_its_tenants_and_its_own_user_level_entitlements_only(api: Api) -> None:
    # given
    await _two_tenants(api)
    # when
    ann_in_acme = await api.data(ENTITLEMENTS, token=user_token("ann", "acme"))
    ann_in_globex = await api.data(ENTITLEMENTS, token=user_token("ann", "globex"))
    bob = await api.data(ENTITLEMENTS, token=user_token("bob", "acme"))
    # then
    assert _reasons(ann_in_acme) == {"acme", "acme-ann"}
    assert ann_in_acme["entitlements"]["totalCount"] == 2
    assert _reasons(ann_in_globex) == {"globex", "globex-ann"}
    assert _reasons(bob) == {"acme", "acme-bob"}


async def test_a_user_token_without_a_tenant_sees_only_its_individual_entitlements(api: Api) -> None:
    # given
    await _two_tenants(api)
    # when
    ann = await api.data(ENTITLEMENTS, token=user_token("ann", None))
    solo = await api.data(ENTITLEMENTS, token=user_token("solo", None))
    # then
    assert _reasons(ann) == {"ann-individual"}
    assert _reasons(solo) == {"solo-individual"}


async def test_a_token_for_a_tenant_the_user_does_not_belong_to_sees_nothing(api: Api) -> None:
    # given
    await _two_tenants(api)
    # when
    carl_in_acme = await api.data(ENTITLEMENTS, token=user_token("carl", "acme"))
    ghost = await api.data(ENTITLEMENTS, token=user_token("ghost", "acme"))
    decision = await api.data(IS_ENTITLED, token=user_token("carl", "acme"))
    # then
    assert _reasons(carl_in_acme) == set()
    assert carl_in_acme["entitlements"]["totalCount"] == 0
    assert _reasons(ghost) == set()
    assert decision["isEntitledTo"]["isEntitled"] is False


async def test_a_user_token_may_filter_within_its_own_subject(api: Api) -> None:
    # given
    await _two_tenants(api)
    token = user_token("ann", "acme")
    # when
    own_tenant = await api.data(ENTITLEMENTS, {"filter": {"tenantKeys": ["acme"]}}, token=token)
    own_user = await api.data(ENTITLEMENTS, {"filter": {"userKeys": ["ann"]}}, token=token)
    level = await api.data(ENTITLEMENTS, {"filter": {"assignLevel": "TENANT"}}, token=token)
    # then
    assert _reasons(own_tenant) == {"acme", "acme-ann"}
    assert _reasons(own_user) == {"acme-ann"}
    assert _reasons(level) == {"acme"}


FOREIGN_FILTERS: list[dict[str, Any]] = [
    {"tenantKeys": ["globex"]},
    {"tenantKeys": ["acme", "globex"]},
    {"userKeys": ["bob"]},
    {"userKeys": ["ann", "bob"]},
    {"tenantKeys": ["ACME"]},
    {"tenantKeys": ["acme"], "userKeys": ["carl"]},
]


async def test_a_user_token_filter_naming_another_subject_is_forbidden(api: Api) -> None:
    # given
    await _two_tenants(api)
    for filter in FOREIGN_FILTERS:
        # when
        error = await api.error(ENTITLEMENTS, {"filter": filter}, token=user_token("ann", "acme"))
        # then
        assert error["extensions"]["code"] == "FORBIDDEN", filter


async def test_a_tenantless_user_token_may_not_filter_by_any_tenant(api: Api) -> None:
    await _two_tenants(api)
    error = await api.error(ENTITLEMENTS, {"filter": {"tenantKeys": ["acme"]}}, token=user_token("ann", None))
    assert error["extensions"]["code"] == "FORBIDDEN"


FOREIGN_SUBJECTS = [{"t": "globex"}, {"u": "bob"}, {"t": "globex", "u": "carl"}, {"t": "acme", "u": "bob"}]


async def test_a_user_token_may_not_ask_decisions_about_another_subject(api: Api) -> None:
    # given
    await _two_tenants(api)
    token = user_token("ann", "acme")
    for args in FOREIGN_SUBJECTS:
        # when
        decision = await api.error(IS_ENTITLED, args, token=token)
        effective = await api.error(EFFECTIVE, args, token=token)
        # then
        assert decision["extensions"]["code"] == "FORBIDDEN", args
        assert effective["extensions"]["code"] == "FORBIDDEN", args


async def test_a_user_token_decisions_default_to_its_own_subject(api: Api) -> None:
    # given
    await _two_tenants(api)
    # when
    own = await api.data(IS_ENTITLED, {"t": "acme", "u": "ann"}, token=user_token("ann", "acme"))
    implicit = await api.data(IS_ENTITLED, token=user_token("ann", "acme"))
    # then
    assert own["isEntitledTo"]["isEntitled"] is True
    assert implicit["isEntitledTo"]["isEntitled"] is True


async def test_a_user_token_may_not_use_management_fields(api: Api) -> None:
    # given
    await _two_tenants(api)
    token = user_token("ann", "acme")
    for name, query in FORBIDDEN_FOR_USERS.items():
        # when
        body = await api.gql(query, token=token)
        # then
        codes = {error["extensions"]["code"] for error in body.get("errors", [])}
        assert codes == {"FORBIDDEN"}, (name, body)
    after = await api.data("{ tenants { totalCount } features { totalCount } entitlements { totalCount } }")
    assert after == {
        "tenants": {"totalCount": 2},
        "features": {"totalCount": 1},
        "entitlements": {"totalCount": 8},
    }


async def test_a_user_token_cannot_reach_another_tenants_data_through_decision_sources(api: Api) -> None:
    # given
    await _two_tenants(api)
    # when
    body = await api.gql(
        """
        {
          isEntitledTo(featureKey: "sso") {
            sources { entitlement { reason tenant { key } user { key } } plan { key } }
          }
          effectiveEntitlements { tenant { key } user { key } features { sources { entitlement { reason } } } }
        }
        """,
        token=user_token("ann", "acme"),
    )
    # then
    assert "errors" not in body, body
    sources = body["data"]["isEntitledTo"]["sources"]
    assert {s["entitlement"]["reason"] for s in sources} == {"acme", "acme-ann"}
    assert {(s["entitlement"]["tenant"] or {}).get("key") for s in sources} == {"acme"}
    effective = body["data"]["effectiveEntitlements"]
    assert effective["tenant"] == {"key": "acme"}
    assert effective["user"] == {"key": "ann"}
    reasons = {s["entitlement"]["reason"] for f in effective["features"] for s in f["sources"]}
    assert reasons == {"acme", "acme-ann"}


async def test_a_user_token_cannot_read_flag_targeting_of_other_tenants(api: Api) -> None:
    # given
    await _two_tenants(api)
    await make_feature(api, "beta")
    await api.data(
        'mutation { createFeatureFlag(input: {key: "beta", name: "Beta", on: true, featureKeys: ["beta"],'
        ' tenantKeys: ["acme", "globex", "initech"]}) { key } }'
    )
    token = user_token("ann", "acme")
    # when
    targeting = await api.gql(
        '{ isEntitledTo(featureKey: "beta") { isEntitled sources { flag { key tenantKeys userKeys } } } }',
        token=token,
    )
    plain = await api.data(
        '{ isEntitledTo(featureKey: "beta") { isEntitled sources { flag { key } } } }', token=token
    )
    # then
    assert {e["extensions"]["code"] for e in targeting["errors"]} == {"FORBIDDEN"}
    assert "globex" not in json.dumps(targeting)
    assert "initech" not in json.dumps(targeting)
    assert plain["isEntitledTo"] == {"isEntitled": True, "sources": [{"flag": {"key": "beta"}}]}
