"""The baseline for the throughput benchmark: a bare strawberry ASGI app with the same decision shape.

``isEntitledTo`` takes the same arguments as Entitle's and returns a constant ``EntitlementDecision``
(same fields, enums and scalars), so the query document and variables sent by wrk are identical.
What this measures is the floor: uvicorn + strawberry parsing (cached), validation (cached),
execution and JSON of the same result shape, with no auth, no caches, no database.

``python bench/reference_app.py --port 8001 [--workers 1]`` serves it with the same uvicorn settings
as ``entitle serve`` (uvloop, httptools, no access log).
"""

from __future__ import annotations

import argparse
import enum
from datetime import datetime
from pathlib import Path

import strawberry
import uvicorn
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.scalars import JSON


@strawberry.enum
class Justification(enum.Enum):
    UNKNOWN_SUBJECT = "UNKNOWN_SUBJECT"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    UNKNOWN_FEATURE = "UNKNOWN_FEATURE"
    PLAN_EXPIRED = "PLAN_EXPIRED"
    NOT_STARTED = "NOT_STARTED"
    MISSING_FEATURE = "MISSING_FEATURE"
    MISSING_PERMISSION = "MISSING_PERMISSION"
    MISSING_ROUTE = "MISSING_ROUTE"
    ROUTE_DENIED = "ROUTE_DENIED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


@strawberry.enum
class SubscriptionContext(enum.Enum):
    ORGANIZATION = "ORGANIZATION"
    INDIVIDUAL = "INDIVIDUAL"


@strawberry.enum
class SourceKind(enum.Enum):
    PLAN = "PLAN"
    GRANT = "GRANT"
    FEATURE_FLAG = "FEATURE_FLAG"
    ROUTE = "ROUTE"


@strawberry.type
class EntitlementSource:
    kind: SourceKind
    expires_at: datetime | None


@strawberry.type
class EntitlementDecision:
    is_entitled: bool
    justification: Justification | None
    context: SubscriptionContext
    value: JSON | None
    limit: int | None
    unlimited: bool
    used: int | None
    remaining: int | None
    resets_at: datetime | None
    overage: int | None
    warning: str | None
    expires_at: datetime | None
    sources: list[EntitlementSource]


@strawberry.input
class RouteInput:
    method: str
    path: str


@strawberry.type
class Query:
    @strawberry.field
    async def is_entitled_to(
        self,
        tenant_key: str | None = None,
        user_key: str | None = None,
        feature_key: str | None = None,
        permission_key: str | None = None,
        route: RouteInput | None = None,
        usage: int | None = None,
        at: datetime | None = None,
    ) -> EntitlementDecision:
        return EntitlementDecision(
            is_entitled=True,
            justification=None,
            context=SubscriptionContext.ORGANIZATION,
            value=10,
            limit=10,
            unlimited=False,
            used=None,
            remaining=10,
            resets_at=None,
            overage=None,
            warning=None,
            expires_at=None,
            sources=[EntitlementSource(kind=SourceKind.PLAN, expires_at=None)],
        )


schema = strawberry.Schema(
    query=Query, extensions=[lambda: ParserCache(maxsize=1024), lambda: ValidationCache(maxsize=1024)]
)
app = GraphQL(schema, graphql_ide=None)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the reference app for the benchmark.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "reference_app:app",
        app_dir=str(Path(__file__).parent),
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
