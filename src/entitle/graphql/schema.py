"""The schema: every domain's queries and mutations merged, with the safety and speed extensions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import strawberry
from aiodataloader import DataLoader
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from entitle.domain.errors import Forbidden
from entitle.graphql import input_builders
from entitle.graphql.catalog.mutations import CatalogMutation
from entitle.graphql.catalog.queries import CatalogQuery
from entitle.graphql.catalog.types import Feature, Plan
from entitle.graphql.changes.queries import ChangesQuery, Subscription
from entitle.graphql.changes.types import Change
from entitle.graphql.context import Info
from entitle.graphql.decisions.log import DecisionLogEntry, DecisionLogQuery
from entitle.graphql.decisions.queries import DecisionsQuery
from entitle.graphql.documents import DocumentCache, cached_documents
from entitle.graphql.entitlements.mutations import EntitlementsMutation
from entitle.graphql.entitlements.queries import EntitlementsQuery
from entitle.graphql.entitlements.types import Entitlement
from entitle.graphql.flags.mutations import FlagsMutation
from entitle.graphql.flags.queries import FlagsQuery
from entitle.graphql.flags.types import FeatureFlag
from entitle.graphql.lifecycle.resolvers import LifecycleMutation
from entitle.graphql.loaders import Loaders
from entitle.graphql.node import Node, from_global_id
from entitle.graphql.permissions import IsManagement, authenticated
from entitle.graphql.routes.types import ApiRoute, RoutesMutation, RoutesQuery
from entitle.graphql.scalars import scalar_map
from entitle.graphql.subjects.mutations import SubjectsMutation
from entitle.graphql.subjects.queries import SubjectsQuery
from entitle.graphql.subjects.types import Tenant, User
from entitle.graphql.usage.mutations import UsageMutation
from entitle.graphql.usage.queries import UsageQuery
from entitle.graphql.usage.types import UsageRecord, UsageReservation
from entitle.graphql.webhooks.resolvers import WebhooksMutation, WebhooksQuery
from entitle.graphql.webhooks.types import WebhookDelivery, WebhookEndpoint
from entitle.settings import Settings
from graphql import GraphQLError

MAX_NODES = 500

_NODE_TYPES: dict[str, tuple[Callable[[Loaders], DataLoader[int, Any]], Any]] = {
    "Feature": (lambda loaders: loaders.feature_by_id, Feature),
    "Plan": (lambda loaders: loaders.plan_by_id, Plan),
    "Tenant": (lambda loaders: loaders.tenant_by_id, Tenant),
    "User": (lambda loaders: loaders.user_by_id, User),
    "Entitlement": (lambda loaders: loaders.entitlement_by_id, Entitlement),
    "FeatureFlag": (lambda loaders: loaders.flag_by_id, FeatureFlag),
    "ApiRoute": (lambda loaders: loaders.route_by_id, ApiRoute),
    "Change": (lambda loaders: loaders.change_by_id, Change),
    "WebhookEndpoint": (lambda loaders: loaders.webhook_endpoint_by_id, WebhookEndpoint),
    "WebhookDelivery": (lambda loaders: loaders.webhook_delivery_by_id, WebhookDelivery),
    "UsageRecord": (lambda loaders: loaders.usage_record_by_id, UsageRecord),
    "DecisionLogEntry": (lambda loaders: loaders.decision_log_entry_by_id, DecisionLogEntry),
}


async def _resolve_node(info: Info, global_id: str) -> Node | None:
    """The object, for a management key; a user token may resolve only its own usage reservations."""
    type_name, pk = from_global_id(global_id)
    principal = info.context.require_principal()
    if type_name == "UsageReservation":
        row = await info.context.loaders.usage_reservation_by_id.load(pk)
        if not principal.is_management and (
            row is None or (row.tenant_key, row.user_key) != (principal.tenant_key, principal.user_key)
        ):
            raise Forbidden("a user token may only read its own usage reservations")
        return None if row is None else await UsageReservation.from_stored(info, row)
    if not principal.is_management:
        raise Forbidden(IsManagement.message)
    kind = _NODE_TYPES.get(type_name)
    if kind is None:
        return None
    loader_of, node_type = kind
    row = await loader_of(info.context.loaders).load(pk)
    node: Node | None = None if row is None else node_type.from_row(row)
    return node


@strawberry.type
class NodeQuery:
    @strawberry.field(
        extensions=authenticated(),
        description="Any object by its global id; null when it is unknown or deleted. Management only, "
        "except that a user token may read its own usage reservations.",
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _resolve_node(info, id)

    @strawberry.field(
        extensions=authenticated(),
        description="Objects by global id, in the order asked; null for unknown ones (user tokens: as node).",
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
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
        UsageQuery,
        DecisionLogQuery,
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


class EntitleSchema(strawberry.Schema):
    """strawberry's schema, with two changes at the edge of what the server says and logs.

    - No error is logged here: strawberry would log every error with its message, and a failed
      variable's message quotes the variable's value (customer data, keys). Client errors are
      answered, not logged; unexpected ones are logged once, without input, by
      ``entitle.graphql.errors.classify``.
    - With ``hide_suggestions`` (introspection off), coercing variables at execution gives no
      "Did you mean …?" hints either (validation's are hidden in ``documents.cached_documents``).
    """

    hide_suggestions = False
    documents: DocumentCache | None = None
    """The parsed and validated documents (shared with ``graphql.compiled``)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        if self.hide_suggestions:
            kwargs["hide_suggestions"] = True
        return kwargs


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    limits = [
        *QueryDepthLimiter(max_depth=settings.entitle_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.entitle_max_aliases).validation_rules,
    ]
    hide_suggestions = not settings.entitle_introspection
    documents = cached_documents(settings.entitle_max_tokens, limits, hide_suggestions=hide_suggestions)
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [documents]
    if not settings.entitle_introspection:
        extensions.append(DisableIntrospection)
    schema = EntitleSchema(
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
            DecisionLogEntry,
        ],
        extensions=extensions,
        config=StrawberryConfig(scalar_map=scalar_map, batching_config={"max_operations": 10}),
    )
    schema.hide_suggestions = hide_suggestions
    schema.documents = documents.documents  # type: ignore[attr-defined]
    input_builders.install(schema)
    return schema
