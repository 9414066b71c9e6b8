"""Small helpers that create things through the GraphQL API (so every test exercises the real path).

Each helper returns the created object's fields as a dict (``id`` and ``key`` at least) and fails
the test when the API answers with an error.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

CREATE_FEATURE = """
mutation($input: CreateFeatureInput!) {
  createFeature(input: $input) { id key name type tiers permissions defaultValue }
}
"""
CREATE_PLAN = """
mutation($input: CreatePlanInput!) {
  createPlan(input: $input) { id key name defaultTimeLimitationDays features { feature { key } value } }
}
"""
UPSERT_TENANTS = """
mutation($input: [TenantInput!]!) {
  upsertTenants(input: $input) { tenants { id key name metadata } errors { index code message field } }
}
"""
UPSERT_USERS = """
mutation($input: [UserInput!]!) {
  upsertUsers(input: $input) { users { id key name email metadata } errors { index code message field } }
}
"""
CREATE_ENTITLEMENT = """
mutation($input: CreateEntitlementInput!) {
  createEntitlement(input: $input) {
    id assignLevel status value startDate expirationDate revokedAt
    plan { key } feature { key } tenant { key } user { key }
  }
}
"""
BATCH_CREATE_ENTITLEMENTS = """
mutation($input: [CreateEntitlementInput!]!, $atomic: Boolean, $key: String) {
  batchCreateEntitlements(input: $input, atomic: $atomic, idempotencyKey: $key) {
    entitlements { id assignLevel status plan { key } feature { key } tenant { key } user { key } }
    errors { index code message field }
  }
}
"""


async def make_feature(
    api: Api, key: str, type: str = "BOOLEAN", *, name: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A feature; ``fields`` are further CreateFeatureInput fields (tiers, permissions, ...)."""
    if type == "TIER" and "tiers" not in fields:
        fields["tiers"] = ["basic", "pro", "enterprise"]
    payload = {"key": key, "name": name or key, "type": type, **fields}
    data = await api.data(CREATE_FEATURE, {"input": payload})
    result: dict[str, Any] = data["createFeature"]
    return result


async def make_plan(
    api: Api,
    key: str,
    features: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A plan; ``features`` maps feature keys to their value in the plan (features must exist)."""
    payload: dict[str, Any] = {"key": key, "name": name or key, **fields}
    if features is not None:
        payload["features"] = [{"featureKey": k, "value": v} for k, v in features.items()]
    data = await api.data(CREATE_PLAN, {"input": payload})
    result: dict[str, Any] = data["createPlan"]
    return result


async def make_tenants(api: Api, *keys: str, **fields: Any) -> list[dict[str, Any]]:
    """Tenants with these keys (created or updated); ``fields`` apply to each."""
    data = await api.data(UPSERT_TENANTS, {"input": [{"key": k, **fields} for k in keys]})
    payload = data["upsertTenants"]
    assert payload["errors"] == [], payload["errors"]
    tenants: list[dict[str, Any]] = payload["tenants"]
    return tenants


async def make_tenant(api: Api, key: str, **fields: Any) -> dict[str, Any]:
    """One tenant (created or updated); ``fields`` are further TenantInput fields (name, metadata)."""
    return (await make_tenants(api, key, **fields))[0]


async def make_user(
    api: Api, key: str, tenant_keys: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    """A user, member of ``tenant_keys`` (which must exist); ``fields``: name, email, metadata."""
    item: dict[str, Any] = {"key": key, **fields}
    if tenant_keys is not None:
        item["tenantKeys"] = tenant_keys
    data = await api.data(UPSERT_USERS, {"input": [item]})
    payload = data["upsertUsers"]
    assert payload["errors"] == [], payload["errors"]
    user: dict[str, Any] = payload["users"][0]
    return user


async def grant(
    api: Api,
    *,
    plan_key: str | None = None,
    feature_key: str | None = None,
    tenant_key: str | None = None,
    user_key: str | None = None,
    value: Any = None,
    start_date: str | None = None,
    expiration_date: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An entitlement to a plan or a single feature for a tenant, a member or an individual user."""
    payload = entitlement_input(
        plan_key=plan_key,
        feature_key=feature_key,
        tenant_key=tenant_key,
        user_key=user_key,
        value=value,
        start_date=start_date,
        expiration_date=expiration_date,
        **fields,
    )
    data = await api.data(CREATE_ENTITLEMENT, {"input": payload})
    result: dict[str, Any] = data["createEntitlement"]
    return result


def entitlement_input(
    *,
    plan_key: str | None = None,
    feature_key: str | None = None,
    tenant_key: str | None = None,
    user_key: str | None = None,
    value: Any = None,
    start_date: str | None = None,
    expiration_date: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A CreateEntitlementInput dict with only the given fields (for batchCreateEntitlements)."""
    payload: dict[str, Any] = {
        "planKey": plan_key,
        "featureKey": feature_key,
        "tenantKey": tenant_key,
        "userKey": user_key,
        "value": value,
        "startDate": start_date,
        "expirationDate": expiration_date,
        **fields,
    }
    return {k: v for k, v in payload.items() if v is not None}


async def batch_grant(
    api: Api, items: list[dict[str, Any]], *, atomic: bool = True, idempotency_key: str | None = None
) -> dict[str, Any]:
    """batchCreateEntitlements with ``items`` built by ``entitlement_input``; returns the payload."""
    data = await api.data(
        BATCH_CREATE_ENTITLEMENTS, {"input": items, "atomic": atomic, "key": idempotency_key}
    )
    result: dict[str, Any] = data["batchCreateEntitlements"]
    return result
