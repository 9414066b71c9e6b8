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
from strawberry.types import ExecutionContext

from entitle.domain.errors import Forbidden
from entitle.graphql import input_builders
from entitle.graphql.catalog.mutations import CatalogMutation
from entitle.graphql.catalog.queries import CatalogQuery
from entitle.graphql.catalog.types import Feature, Plan
from entitle.graphql.changes.queries import ChangesQuery, Subscription
from entitle.graphql.changes.types import Change
from entitle.graphql.core.context import Info
from entitle.graphql.core.permissions import IsManagement, authenticated
from entitle.graphql.core.relay import Node, from_global_id, resolve_node_type
from entitle.graphql.core.scalars import scalar_map
from entitle.graphql.decisions.log import DecisionLogEntry, DecisionLogQuery
from entitle.graphql.decisions.queries import DecisionsQuery
from entitle.graphql.documents import DocumentCache, cached_documents
from entitle.graphql.entitlements.mutations import EntitlementsMutation
from entitle.graphql.entitlements.queries import EntitlementsQuery
from entitle.graphql.entitlements.types import Entitlement
from entitle.graphql.execution import SnapshotMemoExecutor
from entitle.graphql.flags.mutations import FlagsMutation
from entitle.graphql.flags.queries import FlagsQuery
from entitle.graphql.flags.types import FeatureFlag
from entitle.graphql.lifecycle.resolvers import LifecycleMutation
from entitle.graphql.routes.types import ApiRoute, RoutesMutation, RoutesQuery
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


async def _resolve_node(info: Info, global_id: str) -> Node | None:
    """The object, for a management key; a user token may resolve only its own usage reservations."""
    type_name, pk = from_global_id(global_id)
    principal = info.context.require_principal()
    node_type = resolve_node_type(info, type_name)
    if node_type is not None and node_type.user_tokens_may_resolve:
        return await node_type.resolve_node(pk, info=info)
    if not principal.is_management:
        raise Forbidden(IsManagement.message)
    if node_type is None:
        return None
    return await node_type.resolve_node(pk, info=info)


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
        execution_context_class=SnapshotMemoExecutor,
        config=StrawberryConfig(scalar_map=scalar_map, batching_config={"max_operations": 10}),
    )
    schema.hide_suggestions = hide_suggestions
    schema.documents = documents.documents  # type: ignore[attr-defined]
    input_builders.install(schema)
    return schema
