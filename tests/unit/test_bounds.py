"""Every process-lifetime container that grows per request or per new key stays bounded (issue: memory).

The subject cache, the parsed-document cache and the decision log's queue have their own tests
(``test_subject_cache.py``, ``test_document_cache.py``, ``operations/test_decision_log.py``); these
cover the rest: rate-limit buckets, the authenticator's memos, the metrics' operation labels and the
persisted-query registry.
"""

from __future__ import annotations

import hashlib
import time

import jwt
import pytest
from strawberry.http import GraphQLRequestData

import entitle.auth as auth_module
import entitle.graphql.persisted as persisted_module
import entitle.services.rate_limits as rate_limits
from entitle import metrics
from entitle.auth import Authenticator, Principal
from entitle.db.engine import Database
from entitle.db.repositories.api_keys import ApiKeyRecord
from entitle.graphql.persisted import PersistedQueries
from entitle.settings import Settings
from graphql import build_schema

SECRET = "a-test-secret-of-at-least-32-bytes!!"


def test_rate_limit_buckets_keep_the_most_recent_callers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limits, "MAX_CALLERS", 10)
    limiter = rate_limits.RateLimiter(rate=1.0, burst=1, clock=lambda: 0.0)
    for i in range(50):
        limiter.take(Principal(kind="USER", name=f"u{i}", tenant_key="t", user_key=f"u{i}"))
    assert len(limiter._buckets) == 10


def test_the_default_rate_limit_bound() -> None:
    assert rate_limits.RateLimiter(1.0)._buckets.maxsize == rate_limits.MAX_CALLERS == 100_000


def authenticator(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Authenticator:
    monkeypatch.setenv("ENTITLE_JWT_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('auth')}/unused.db")
    settings = Settings()
    return Authenticator(settings, Database(settings))  # nothing connects: no key is looked up here


def test_verified_user_tokens_are_memoised_up_to_a_bound(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    authn = authenticator(monkeypatch, tmp_path_factory)
    monkeypatch.setattr(Authenticator, "_MAX_CACHED_TOKENS", 5)
    exp = int(time.time()) + 3600
    for i in range(23):
        token = jwt.encode({"sub": f"u{i}", "exp": exp}, SECRET, algorithm="HS256")
        authn._verify_jwt(token)
        assert 1 <= len(authn._tokens) <= 5
    assert Authenticator._MAX_CACHED_TOKENS == 5


async def test_found_api_keys_are_memoised_up_to_a_bound(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    authn = authenticator(monkeypatch, tmp_path_factory)
    monkeypatch.setattr(Authenticator, "_MAX_CACHED_KEYS", 4)
    looked_up: list[str] = []

    async def by_hash(_database: object, digest: str) -> ApiKeyRecord:
        looked_up.append(digest)
        return ApiKeyRecord(name=f"key-{digest[:6]}", read_only=False)

    monkeypatch.setattr(auth_module.api_keys, "by_hash", by_hash)
    for i in range(17):
        principal = await authn._verify_api_key(f"secret-{i}")
        assert principal.is_management
        assert 1 <= len(authn._keys) <= 4
    await authn._verify_api_key("secret-16")  # the most recent is still memoised
    assert len(looked_up) == 17


def test_the_default_authenticator_bounds() -> None:
    assert Authenticator._MAX_CACHED_TOKENS == 50_000
    assert Authenticator._MAX_CACHED_KEYS == 10_000


SCHEMA = build_schema(
    "type Query { " + " ".join(f"f{i}: Int" for i in range(30)) + " }",
)


@pytest.fixture
def fresh_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_operations", {})
    monkeypatch.setattr(metrics, "_operation_chars", 0)
    monkeypatch.setattr(metrics, "_labels", {"none", "batch", "invalid", "multiple", metrics.OTHER})
    monkeypatch.setattr(metrics, "labelling", True)


def label(query: str) -> str:
    scope: dict[str, object] = {}
    metrics.note_operation(scope, SCHEMA, query)
    result = metrics.operation_of(scope)
    assert result is not None
    return result


@pytest.mark.usefixtures("fresh_metrics")
def test_labels_are_memoised_for_a_bounded_number_of_query_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_MAX_LABELLED_QUERIES", 8)
    for i in range(40):
        assert label(f"query Q{i} {{ f1 }}") == "f1"
    assert len(metrics._operations) == 8


@pytest.mark.usefixtures("fresh_metrics")
def test_labels_are_memoised_for_a_bounded_number_of_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_MAX_LABELLED_CHARS", 1_000)
    monkeypatch.setattr(metrics, "_LARGEST_LABELLED_QUERY", 400)
    long = "query Long { f1 " + " " * 500 + "}"
    assert label(long) == "f1"
    assert long not in metrics._operations  # labelled, never kept
    for i in range(20):
        assert label(f"query Q{i} {{ f2 {' ' * 180}}}") == "f2"
    assert 0 < metrics._operation_chars <= 1_000
    assert sum(len(q) for q in metrics._operations) == metrics._operation_chars
    assert len(metrics._operations) == 5


@pytest.mark.usefixtures("fresh_metrics")
def test_new_combinations_of_root_fields_past_the_label_bound_are_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "_MAX_OPERATION_LABELS", 12)  # 5 fixed labels + 7 combinations
    combos = [f"{{ f{i} f{i + 1} }}" for i in range(20)]
    labels = [label(q) for q in combos]
    assert labels[:7] == [f"f{i}+f{i + 1}" for i in range(7)]
    assert labels[7:] == [metrics.OTHER] * 13
    assert label("{ f0 f1 }") == "f0+f1"  # labels already handed out are kept
    assert label("query Again { f1 f0 }") == "f0+f1"  # also for a new text of a known combination
    assert len(metrics._labels) == 12


def test_the_default_metrics_bounds() -> None:
    assert metrics._MAX_LABELLED_QUERIES == 10_000
    assert metrics._MAX_LABELLED_CHARS == 1_000_000
    assert metrics._MAX_OPERATION_LABELS == 1_000


def test_registered_persisted_queries_are_bounded_in_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(persisted_module, "CACHE_SIZE", 6)
    registry = PersistedQueries()
    for i in range(30):
        query = f"query Q{i} {{ viewer {{ kind }} }}"
        digest = hashlib.sha256(query.encode()).hexdigest()
        registry.resolve(
            GraphQLRequestData(
                query=query,
                variables=None,
                operation_name=None,
                extensions={"persistedQuery": {"version": 1, "sha256Hash": digest}},
            )
        )
        assert len(registry._registered) <= 6
    assert len(registry._registered) == 6


def test_registered_persisted_queries_are_bounded_in_characters() -> None:
    registry = PersistedQueries()
    padding = " " * (persisted_module.LARGEST_CACHED_QUERY - 100)
    for i in range(persisted_module.CACHE_CHARS // len(padding) + 10):
        query = f"query Q{i} {{ viewer {{ kind }} }}{padding}"
        digest = hashlib.sha256(query.encode()).hexdigest()
        registry.resolve(
            GraphQLRequestData(
                query=query,
                variables=None,
                operation_name=None,
                extensions={"persistedQuery": {"version": 1, "sha256Hash": digest}},
            )
        )
    assert 0 < registry._registered.currsize <= persisted_module.CACHE_CHARS
