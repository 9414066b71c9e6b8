"""Parse and validate each distinct document once, in one extension.

Keyed by the query text (a string hashes in O(1) once; a parsed document would be hashed node by
node on every request). The token limit applies while parsing, the depth and alias limits are
validation rules, so all three only ever run on a cache miss. One extension instead of four
(MaxTokensLimiter, ParserCache, AddValidationRules, ValidationCache) also saves their per-request
hook plumbing on the hot path. A document with several operations must name one
(``operationName``): graphql-core would otherwise run the first, silently.

The input boundary (:mod:`entitle.graphql.boundary`) is analysed here too, once per document;
per request only the declared variables' values are checked. With ``hide_suggestions``
(introspection off), validation messages carry no "Did you mean …?" hints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from entitle.graphql.boundary import DocumentInputs, analyse
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    validate,
)

CACHE_SIZE = 1024
_NAME_THE_OPERATION = "the document holds several operations: name the one to run in operationName"


def cached_documents(
    max_tokens: int, limit_rules: Sequence[type[ASTValidationRule]], *, hide_suggestions: bool = False
) -> Callable[[], SchemaExtension]:
    """A factory for the extension, with its caches shared by every request of one schema."""
    limits = (*limit_rules, MaybeNullValidationRule, OneOfInputValidationRule)

    @lru_cache(maxsize=CACHE_SIZE)
    def parse_query(query: str) -> DocumentNode:
        return parse(query, max_tokens=max_tokens)

    @lru_cache(maxsize=CACHE_SIZE)
    def validate_query(
        schema: GraphQLSchema, query: str, rules: tuple[type[ASTValidationRule], ...]
    ) -> list[GraphQLError]:
        return validate(schema, parse_query(query), rules + limits, hide_suggestions=hide_suggestions)

    @lru_cache(maxsize=CACHE_SIZE)
    def document_inputs(schema: GraphQLSchema, query: str) -> DocumentInputs:
        return analyse(schema, parse_query(query))

    @lru_cache(maxsize=CACHE_SIZE)
    def operation_count(query: str) -> int:
        return sum(isinstance(d, OperationDefinitionNode) for d in parse_query(query).definitions)

    class CachedDocuments(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            context: Any = self.execution_context
            context.graphql_document = parse_query(context.query)
            yield

        def on_validate(self) -> Iterator[None]:
            context: Any = self.execution_context
            errors = validate_query(context.schema._schema, context.query, tuple(context.validation_rules))
            # strawberry's `operation_name` falls back to the first operation's name: ask what was sent.
            sent_name = getattr(context, "_provided_operation_name", None)
            if not errors and sent_name is None and operation_count(context.query) > 1:
                errors = [GraphQLError(_NAME_THE_OPERATION)]
            if not errors:
                refused = document_inputs(context.schema._schema, context.query).check(context.variables)
                if refused is not None:
                    errors = [GraphQLError(refused.message, original_error=refused)]
            context.pre_execution_errors = errors
            yield

    return CachedDocuments
