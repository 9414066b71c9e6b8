"""The schema: every domain's queries and mutations merged, with the safety and speed extensions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from entitle.graphql.catalog.mutations import CatalogMutation
from entitle.graphql.catalog.queries import CatalogQuery
from entitle.graphql.catalog.types import Feature, Plan
from entitle.graphql.changes.queries import ChangesQuery, Subscription
from entitle.graphql.changes.types import Change
from entitle.graphql.context import Info
from entitle.graphql.decisions.queries import DecisionsQuery
from entitle.graphql.documents import cached_documents
from entitle.graphql.entitlements.mutations import EntitlementsMutation
from entitle.graphql.entitlements.queries import EntitlementsQuery
from entitle.graphql.entitlements.types import Entitlement
from entitle.graphql.flags.mutations import FlagsMutation
from entitle.graphql.flags.queries import FlagsQuery
from entitle.graphql.flags.types import FeatureFlag
from entitle.graphql.lifecycle.resolvers import LifecycleMutation, LifecycleQuery
from entitle.graphql.lifecycle.types import UsageRecord, UsageReservation
from entitle.graphql.node import Node, from_global_id
from entitle.graphql.routes.types import ApiRoute, RoutesMutation, RoutesQuery
from entitle.graphql.scalars import scalar_map
from entitle.graphql.subjects.mutations import SubjectsMutation
from entitle.graphql.subjects.queries import SubjectsQuery
from entitle.graphql.subjects.types import Tenant, User
from entitle.graphql.usage.mutations import UsageMutation
from entitle.graphql.webhooks.resolvers import WebhooksMutation, WebhooksQuery
from entitle.graphql.webhooks.types import WebhookDelivery, WebhookEndpoint
from entitle.settings import Settings

MAX_NODES = 500

_NODE_TYPES: dict[str, tuple[str, Any]] = {
    "Feature": ("feature_by_id", Feature),
    "Plan": ("plan_by_id", Plan),
    "Tenant": ("tenant_by_id", Tenant),
    "User": ("user_by_id", User),
    "Entitlement": ("entitlement_by_id", Entitlement),
    "FeatureFlag": ("flag_by_id", FeatureFlag),
    "ApiRoute": ("route_by_id", ApiRoute),
    "WebhookEndpoint": ("webhook_endpoint_by_id", WebhookEndpoint),
    "WebhookDelivery": ("webhook_delivery_by_id", WebhookDelivery),
}


async def _resolve_node(info: Info, global_id: str) -> Node | None:
    type_name, pk = from_global_id(global_id)
    kind = _NODE_TYPES.get(type_name)
    if kind is None:
        return None
    loader_name, node_type = kind
    row = await getattr(info.context.loaders, loader_name).load(pk)
    node: Node | None = None if row is None else node_type.from_row(row)
    return node


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null when it is unknown or deleted.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        info.context.require_management()
        return await _resolve_node(info, id)

    @strawberry.field(description="Objects by global id, in the order asked; null for unknown ones.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        info.context.require_management()
        if len(ids) > MAX_NODES:
            from entitle.domain.errors import BadUserInput

            raise BadUserInput(f"at most {MAX_NODES} ids", field="ids")
        # Together, so each loader batches every id of its type into one statement.
        return list(await asyncio.gather(*(_resolve_node(info, i) for i in ids)))


Query = merge_types(
    "Query",
    (
        NodeQuery,
        DecisionsQuery,
        CatalogQuery,
        SubjectsQuery,
        EntitlementsQuery,
        FlagsQuery,
        RoutesQuery,
        ChangesQuery,
        WebhooksQuery,
        LifecycleQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        CatalogMutation,
        SubjectsMutation,
        EntitlementsMutation,
        FlagsMutation,
        RoutesMutation,
        UsageMutation,
        WebhooksMutation,
        LifecycleMutation,
    ),
)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    limits = [
        *QueryDepthLimiter(max_depth=settings.entitle_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.entitle_max_aliases).validation_rules,
    ]
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        cached_documents(settings.entitle_max_tokens, limits)
    ]
    if not settings.entitle_introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            Feature,
            Plan,
            Tenant,
            User,
            Entitlement,
            FeatureFlag,
            ApiRoute,
            Change,
            WebhookEndpoint,
            WebhookDelivery,
            UsageReservation,
            UsageRecord,
        ],
        extensions=extensions,
        config=StrawberryConfig(scalar_map=scalar_map, batching_config={"max_operations": 10}),
    )
