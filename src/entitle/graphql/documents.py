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
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
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
"""At most this many distinct documents are kept (least recently used first out)."""
CACHE_CHARS = 1_000_000
"""... and at most this many characters of query text in all. A parsed document takes 60-110 bytes
per character of token-dense text, so this bounds the caches to roughly 100 MB at worst, whatever
a client sends (unique documents, each up to the body limit); everyday documents (a few hundred
characters each) fill CACHE_SIZE long before this."""
LARGEST_CACHED_QUERY = 64_000
"""A longer document is parsed and validated on every request and never displaces others."""
_NAME_THE_OPERATION = "the document holds several operations: name the one to run in operationName"

Rules = tuple[type[ASTValidationRule], ...]


@dataclass
class _Parsed:
    document: DocumentNode
    operations: int
    chars: int
    errors: dict[Rules, list[GraphQLError]] = field(default_factory=dict)
    """Validation errors per rule set (one in practice: the schema's)."""
    inputs: DocumentInputs | None = None
    """Where the document's inputs are (analysed once it validates)."""
    plan: Any = False
    """Its compiled plan (``graphql.compiled``): False until tried, None when it does not compile."""


class DocumentCache:
    """Parsed and validated documents by query text, bounded in count and in characters."""

    def __init__(
        self,
        max_tokens: int,
        limits: Rules,
        *,
        entries: int = CACHE_SIZE,
        chars: int = CACHE_CHARS,
        largest: int = LARGEST_CACHED_QUERY,
        hide_suggestions: bool = False,
    ) -> None:
        self._max_tokens = max_tokens
        self._limits = (*limits, MaybeNullValidationRule, OneOfInputValidationRule)
        self._hide_suggestions = hide_suggestions
        self._largest = min(largest, chars)
        self._entries = entries
        self._by_query: LRUCache[str, _Parsed] = LRUCache(maxsize=chars, getsizeof=lambda p: max(p.chars, 1))

    def __len__(self) -> int:
        return len(self._by_query)

    def __contains__(self, query: str) -> bool:
        return query in self._by_query

    @property
    def chars(self) -> int:
        """Characters of query text held now."""
        return int(self._by_query.currsize)

    def parsed(self, query: str) -> _Parsed:
        parsed = self._by_query.get(query)
        if parsed is None:
            document = parse(query, max_tokens=self._max_tokens)
            operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
            parsed = _Parsed(document, operations, len(query))
            if len(query) <= self._largest:
                while len(self._by_query) >= self._entries:
                    self._by_query.popitem()
                self._by_query[query] = parsed
        return parsed

    def validated(self, query: str) -> _Parsed | None:
        """The document of ``query`` when it is cached and has passed validation (by the general path,
        with the schema's rules), else None."""
        parsed = self._by_query.get(query)
        if parsed is None or not parsed.errors or any(parsed.errors.values()) or parsed.operations != 1:
            return None
        return parsed

    def validate(self, schema: GraphQLSchema, query: str, rules: Rules) -> tuple[_Parsed, list[GraphQLError]]:
        parsed = self.parsed(query)
        errors = parsed.errors.get(rules)
        if errors is None:
            errors = validate(
                schema, parsed.document, rules + self._limits, hide_suggestions=self._hide_suggestions
            )
            parsed.errors[rules] = errors
        return parsed, errors

    def inputs(self, schema: GraphQLSchema, parsed: _Parsed) -> DocumentInputs:
        if parsed.inputs is None:
            parsed.inputs = analyse(schema, parsed.document)
        return parsed.inputs


def cached_documents(
    max_tokens: int, limit_rules: Sequence[type[ASTValidationRule]], *, hide_suggestions: bool = False
) -> Callable[[], SchemaExtension]:
    """A factory for the extension, with its cache shared by every request of one schema."""
    cache = DocumentCache(max_tokens, tuple(limit_rules), hide_suggestions=hide_suggestions)

    class CachedDocuments(SchemaExtension):
        documents = cache

        def on_parse(self) -> Iterator[None]:
            context: Any = self.execution_context
            context.graphql_document = cache.parsed(context.query).document
            yield

        def on_validate(self) -> Iterator[None]:
            context: Any = self.execution_context
            rules = tuple(context.validation_rules)
            parsed, errors = cache.validate(context.schema._schema, context.query, rules)
            # strawberry's `operation_name` falls back to the first operation's name: ask what was sent.
            sent_name = getattr(context, "_provided_operation_name", None)
            if not errors and sent_name is None and parsed.operations > 1:
                errors = [GraphQLError(_NAME_THE_OPERATION)]
            if not errors:
                refused = cache.inputs(context.schema._schema, parsed).check(context.variables)
                if refused is not None:
                    errors = [GraphQLError(refused.message, original_error=refused)]
            context.pre_execution_errors = errors
            yield

    return CachedDocuments
