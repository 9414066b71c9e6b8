"""GraphQL types of API routes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import strawberry

from entitle.graphql.catalog.types import Feature
from entitle.graphql.core.context import Info
from entitle.graphql.core.enums import RoutePolicy
from entitle.graphql.core.payloads import DeletePayload
from entitle.graphql.core.permissions import management, writer
from entitle.graphql.core.relay import Connection, Node, load_nodes, pk_of, to_global_id
from entitle.services import flags_routes, listings
from entitle.services.flags_routes import NewRoute
from entitle.services.lookups import RouteRecord


@strawberry.type
class ApiRoute(Node):
    id: strawberry.ID
    method: str
    path_pattern: str
    policy: RoutePolicy
    permission_key: str | None
    priority: int
    feature_id: strawberry.Private[int | None]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[int]) -> Sequence[ApiRoute | None]:
        return await load_nodes(info.context.loaders.route_by_id, node_ids, cls.from_record)

    @classmethod
    def from_record(cls, record: RouteRecord) -> ApiRoute:
        return cls(
            id=to_global_id("ApiRoute", record.id),
            method=record.method,
            path_pattern=record.path_pattern,
            policy=RoutePolicy(record.policy),
            permission_key=record.permission_key,
            priority=record.priority,
            feature_id=record.feature_id,
        )

    @strawberry.field
    async def feature(self, info: Info) -> Feature | None:
        if self.feature_id is None:
            return None
        record = await info.context.loaders.feature_by_id.load(self.feature_id)
        return None if record is None else Feature.from_record(record)


@strawberry.type
class ApiRouteConnection(Connection[ApiRoute]):
    pass


@strawberry.input
class ApiRouteInput:
    method: str
    path_pattern: str
    policy: RoutePolicy
    feature_key: str | None = None
    permission_key: str | None = None
    priority: int | None = None

    def to_command(self) -> NewRoute:
        return NewRoute(
            method=self.method,
            path_pattern=self.path_pattern,
            policy=self.policy,
            feature_key=self.feature_key,
            permission_key=self.permission_key,
            priority=self.priority,
        )


@strawberry.type
class RoutesQuery:
    @strawberry.field(extensions=management())
    async def api_routes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ApiRouteConnection:
        return await ApiRouteConnection.resolve_connection(
            listings.routes(), info=info, first=first, after=after, last=last, before=before
        )


@strawberry.type
class RoutesMutation:
    @strawberry.mutation(extensions=writer())
    async def create_api_route(self, info: Info, input: ApiRouteInput) -> ApiRoute:
        return ApiRoute.from_record(await flags_routes.create_route(info.context.runtime, input.to_command()))

    @strawberry.mutation(extensions=writer())
    async def delete_api_route(self, info: Info, id: strawberry.ID) -> DeletePayload:
        route_id = await flags_routes.delete_route(info.context.runtime, pk_of(id, "ApiRoute"))
        return DeletePayload(deleted_id=to_global_id("ApiRoute", route_id))
