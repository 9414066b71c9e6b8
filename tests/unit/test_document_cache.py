"""The parsed-document cache stays bounded whatever query texts clients send (issue: memory)."""

from __future__ import annotations

from entitle.graphql.documents import CACHE_CHARS, CACHE_SIZE, LARGEST_CACHED_QUERY, DocumentCache
from graphql import build_schema, specified_rules

SCHEMA = build_schema("type Query { echo(text: String): String }")
RULES = tuple(specified_rules)


def unique(i: int, padding: int = 0) -> str:
    return f'query Q{i} {{ echo(text: "{"x" * padding}{i}") }}'


def test_a_repeated_document_is_parsed_and_validated_once() -> None:
    cache = DocumentCache(max_tokens=1000, limits=())
    first, errors = cache.validate(SCHEMA, unique(1), RULES)
    again, errors_again = cache.validate(SCHEMA, unique(1), RULES)
    assert again is first
    assert errors_again is errors == []


def test_unique_documents_past_the_entry_bound_evict_the_least_recently_used() -> None:
    cache = DocumentCache(max_tokens=1000, limits=(), entries=8)
    kept = cache.parsed(unique(0))
    for i in range(1, 40):
        cache.parsed(unique(i))
        cache.parsed(unique(0))  # kept in use
    assert len(cache) == 8
    assert cache.parsed(unique(0)) is kept
    assert unique(0) in cache
    assert unique(1) not in cache
    assert unique(39) in cache


def test_the_cache_holds_at_most_its_budget_of_characters() -> None:
    cache = DocumentCache(max_tokens=1000, limits=(), chars=1_000)
    for i in range(20):
        cache.parsed(unique(i, padding=280))
    assert 0 < cache.chars <= 1_000
    assert len(cache) == 3


def test_a_document_longer_than_the_largest_cached_is_answered_but_not_kept() -> None:
    cache = DocumentCache(max_tokens=1000, limits=(), largest=500)
    parsed, errors = cache.validate(SCHEMA, unique(1, padding=600), RULES)
    assert errors == []
    assert parsed.operations == 1
    assert len(cache) == 0
    assert cache.chars == 0


def test_default_bounds_hold_against_many_unique_and_many_large_documents() -> None:
    cache = DocumentCache(max_tokens=20_000, limits=())
    for i in range(CACHE_SIZE + 100):
        cache.parsed(unique(i))
    assert len(cache) == CACHE_SIZE
    for i in range(60):
        cache.parsed(unique(i, padding=LARGEST_CACHED_QUERY - 100))
    assert cache.chars <= CACHE_CHARS
    assert len(cache) <= CACHE_SIZE
