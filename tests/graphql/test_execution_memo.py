"""Catalog objects completed once per request (graphql/execution.py) answer exactly what graphql-core's
own executor answers: same bytes for nested listings, repeated plans, errors inside catalog subtrees,
and a catalog changed between requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from tests.conftest import Api
from tests.factories import batch_grant, entitlement_input, make_feature, make_plan, make_tenants

NESTED = """
query($first: Int!) {
  entitlements(first: $first) {
    edges {
      cursor
      node {
        id status
        plan {
          key name version
          features { feature { key name type } value }
          versions { version entitlementCount features { feature { key } value } }
          again: features { value feature { key } }
        }
        feature { key type }
        tenant { key }
      }
    }
  }
}
"""
ERROR_INSIDE_A_PLAN = """
{ entitlements(first: 20) { edges { node { plan { key entitlements(first: -1) { totalCount } } } } } }
"""


@contextmanager
def graphql_cores_own_executor(api: Api) -> Iterator[None]:
    schema: Any = api.app.view.schema
    memoizing = schema.execution_context_class
    schema.execution_context_class = StrawberryGraphQLCoreExecutionContext
    try:
        yield
    finally:
        schema.execution_context_class = memoizing


async def _both(api: Api, query: str, variables: dict[str, Any] | None = None) -> bytes:
    memoized = await api.post(query, variables)
    with graphql_cores_own_executor(api):
        plain = await api.post(query, variables)
    assert memoized.status_code == plain.status_code == 200
    assert memoized.content == plain.content
    return memoized.content


async def _seed(api: Api) -> None:
    await make_feature(api, "sso")
    await make_feature(api, "seats", "LIMIT")
    await make_plan(api, "basic", {"sso": False, "seats": 5})
    await make_plan(api, "pro", {"sso": True, "seats": 50})
    await make_tenants(api, *[f"t-{n}" for n in range(10)])
    items = [entitlement_input(plan_key=("basic", "pro")[n % 2], tenant_key=f"t-{n % 10}") for n in range(30)]
    items += [entitlement_input(feature_key="seats", value=n, tenant_key=f"t-{n}") for n in range(5)]
    assert (await batch_grant(api, items))["errors"] == []


async def test_a_nested_page_is_the_same_with_and_without_the_memo(api: Api) -> None:
    # given: 35 grants over two plans, each plan repeated on many edges
    await _seed(api)
    # when / then
    body = await _both(api, NESTED, {"first": 35})
    assert body.count(b'"key":"pro"') >= 15


async def test_an_error_inside_a_repeated_plan_is_reported_at_each_place(api: Api) -> None:
    await _seed(api)
    body = await _both(api, ERROR_INSIDE_A_PLAN)
    assert body.count(b"BAD_USER_INPUT") == 20


async def test_a_plan_changed_between_requests_is_answered_afresh(api: Api) -> None:
    # given: a page answered once (the catalog's objects completed)
    await _seed(api)
    await _both(api, NESTED, {"first": 35})
    # when: a plan changes
    await api.data('mutation { updatePlan(key: "pro", input: {name: "Pro 2"}) { key } }')
    # then: the next page shows it on every edge
    body = await _both(api, NESTED, {"first": 35})
    assert body.count(b'"name":"Pro 2"') == 15
