"""graphql-core's executor, completing each shared catalog object once per request.

A page of 100 entitlements names the same few plans over and over; graphql-core completes
``plan { key features { feature { key } value } }`` again for every edge, field by field (about two
thirds of a nested page's fields). Catalog objects are immutable snapshots shared by every request
(``graphql.catalog.types.RenderedCatalog``), so within one operation the completed value of a
given object under a given selection is always the same: it is computed the first time and reused.

What is reused is exactly what the first completion produced, so the response is the one graphql-core
would give (``tests/graphql/test_execution_memo.py`` compares both). A completion is kept only when
it finished synchronously and added no error (an error carries the path where it happened, and a
field that failed once must fail at each of its places). The key holds the selection list and the
object themselves, so neither identity can be reused while the operation runs. A subscription's
per-event executor starts with an empty memo: the catalog may have changed between events.
"""

from __future__ import annotations

from typing import Any

from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql import GraphQLObjectType, GraphQLResolveInfo

SNAPSHOT_TYPES = frozenset({"Plan", "Feature", "PlanFeature", "PlanVersion"})
"""GraphQL types whose objects come from the process's catalog snapshot and never change."""


class SnapshotMemoExecutor(StrawberryGraphQLCoreExecutionContext):
    _memo: dict[tuple[GraphQLObjectType, int, int], tuple[FieldDetailsList, Any, Any]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._memo = {}

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, SnapshotMemoExecutor)
        executor._memo = {}
        return executor

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if return_type.name not in SNAPSHOT_TYPES or position_context is not None:
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
        key = (return_type, id(field_details_list), id(result))
        kept = self._memo.get(key)
        if kept is not None:
            return kept[2]
        errors = len(self.collected_errors.errors)
        completed = super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )
        if not self.is_awaitable(completed) and len(self.collected_errors.errors) == errors:
            self._memo[key] = (field_details_list, result, completed)
        return completed
