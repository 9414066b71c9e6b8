"""Field permissions (graphql/core/permissions.py) refuse with FORBIDDEN and the exact messages of §2."""

from __future__ import annotations

import time

import jwt

from entitle.auth import create_api_key
from tests.conftest import JWT_SECRET, Api
from tests.factories import CREATE_FEATURE, UPSERT_TENANTS, make_feature, make_tenant

MANAGEMENT_ONLY = "a management API key is required for this field"
READ_ONLY = "this API key is read-only: mutations are not allowed"
FEATURE_INPUT = {"input": {"key": "x", "name": "X", "type": "BOOLEAN"}}
BOTH = '{ entitlements { totalCount } feature(key: "sso") { key } }'


def user_token(sub: str, tenant: str) -> str:
    return jwt.encode({"sub": sub, "tenantId": tenant, "exp": int(time.time()) + 3600}, JWT_SECRET, "HS256")


async def test_a_user_token_is_refused_management_queries_and_mutations_with_the_management_message(
    api: Api,
) -> None:
    # given
    await make_tenant(api, "acme")
    token = user_token("ann", "acme")
    # when
    query = await api.error("{ features { totalCount } }", token=token)
    mutation = await api.error(CREATE_FEATURE, FEATURE_INPUT, token=token)
    # then
    for error in (query, mutation):
        assert error["extensions"] == {"code": "FORBIDDEN"}
        assert error["message"] == MANAGEMENT_ONLY
    assert query["path"] == ["features"]
    assert mutation["path"] == ["createFeature"]


async def test_a_read_only_key_is_refused_mutations_with_the_read_only_message(api: Api) -> None:
    # given
    secret = await create_api_key(api.app.runtime.database, "dashboard", read_only=True)
    # when
    create = await api.error(CREATE_FEATURE, FEATURE_INPUT, token=secret)
    upsert = await api.error(UPSERT_TENANTS, {"input": [{"key": "acme"}]}, token=secret)
    listed = await api.data("{ features { totalCount } }", token=secret)
    # then
    for error in (create, upsert):
        assert error["extensions"] == {"code": "FORBIDDEN"}
        assert error["message"] == READ_ONLY
    assert listed == {"features": {"totalCount": 0}}


async def test_a_refused_field_nulls_only_itself_and_the_rest_of_the_answer_stays(api: Api) -> None:
    # given
    await make_feature(api, "sso")
    # when
    allowed = await api.gql(BOTH)
    refused = await api.gql(BOTH, token=user_token("ann", "acme"))
    # then
    assert allowed == {"data": {"entitlements": {"totalCount": 0}, "feature": {"key": "sso"}}}
    assert refused["data"] == {"entitlements": {"totalCount": 0}, "feature": None}
    assert [(e["path"], e["message"]) for e in refused["errors"]] == [(["feature"], MANAGEMENT_ONLY)]
