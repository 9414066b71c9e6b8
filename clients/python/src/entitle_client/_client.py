"""``EntitleClient`` (sync) and ``AsyncEntitleClient`` on httpx; both share ``_Core`` for documents, parsing,
fallback and the live cache."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from entitle_client import _documents as docs
from entitle_client._cache import LiveCache
from entitle_client.errors import EntitleUnavailable, error_from
from entitle_client.types import Decision, EffectiveEntitlements, Reservation, Subject

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_RETRIES = 3
BACKOFF_BASE_S = 0.1
UNAVAILABLE_MESSAGE = "The service that checks access cannot be reached right now."


def _backoff(attempt: int) -> float:
    return float(BACKOFF_BASE_S * (2**attempt))


class _Core:
    """What the sync and async clients share: settings, request building, answer parsing, fallback, cache."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        fallback: Mapping[str, Any] | None = None,
        cache: bool = False,
        cache_size: int = 10_000,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        self.url = url.rstrip("/")
        if not self.url.endswith("/graphql"):
            self.url += "/graphql"
        self.token = token
        self.fallback = dict(fallback or {})
        self.retries = retries
        self.last_revision: str | None = None
        self.cache: LiveCache | None = (
            LiveCache(self.url.replace("http", "ws", 1), token, max_subjects=cache_size) if cache else None
        )

    # -- requests and answers ------------------------------------------------------------------
    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    def _answer(self, response: httpx.Response, field: str) -> Any:
        if response.status_code >= 500:
            raise EntitleUnavailable(f"the Entitle service answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise EntitleUnavailable(f"the Entitle service answered HTTP {response.status_code}") from exc
        if body.get("errors"):
            raise error_from(body["errors"])
        revision = (body.get("extensions") or {}).get("revision")
        if isinstance(revision, str):
            self.last_revision = revision
        return body["data"][field]

    @staticmethod
    def _check_variables(
        tenant_key: str | None,
        user_key: str | None,
        feature_key: str | None,
        permission_key: str | None,
        route: tuple[str, str] | None,
        usage: int | None,
        min_revision: str | None,
    ) -> dict[str, Any]:
        return {
            "t": tenant_key,
            "u": user_key,
            "f": feature_key,
            "p": permission_key,
            "r": {"method": route[0], "path": route[1]} if route else None,
            "n": usage,
            "m": min_revision,
        }

    def _fallback_decision(self, feature_key: str | None) -> Decision:
        if feature_key is not None and feature_key in self.fallback:
            value = self.fallback[feature_key]
            return Decision(is_entitled=bool(value), value=value, is_fallback=True)
        return Decision(is_entitled=False, message=UNAVAILABLE_MESSAGE, is_fallback=True)

    def _cached_decision(self, subject: Subject, feature_key: str) -> Decision | None:
        """A decision from the cache when it can give one: the feature is in the subject's effective
        entitlements (a check without usage is then entitled). Refusals go to the server for their
        justification and message."""
        if self.cache is None:
            return None
        effective = self.cache.get(subject)
        if effective is None:
            return None
        feature = effective.features.get(feature_key)
        if feature is None:
            return None
        return Decision(
            is_entitled=True,
            value=feature.value,
            limit=feature.limit,
            unlimited=feature.unlimited,
            used=feature.used,
            remaining=feature.remaining,
            expires_at=feature.expires_at,
            from_cache=True,
        )

    def _note_write(self, subject: Subject) -> None:
        if self.cache is not None:
            self.cache.require(subject, self.last_revision)

    def _report_input(
        self,
        feature_key: str,
        amount: int,
        tenant_key: str | None,
        user_key: str | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        return {
            "featureKey": feature_key,
            "amount": amount,
            "tenantKey": tenant_key,
            "userKey": user_key,
            "idempotencyKey": idempotency_key or str(uuid.uuid4()),
        }


class EntitleClient(_Core):
    """Synchronous client. ``EntitleClient("http://host:8000", token)``; close it (or use ``with``)."""

    def __init__(self, url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT_S, **options: Any) -> None:
        super().__init__(url, token, **options)
        self._http = httpx.Client(timeout=timeout, headers=self.headers)

    def __enter__(self) -> EntitleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        if self.cache is not None:
            self.cache.close()

    def execute(self, query: str, variables: dict[str, Any], field: str) -> Any:
        """Send one GraphQL document (retrying network errors with backoff) and return ``data[field]``."""
        for attempt in range(self.retries + 1):
            try:
                response = self._http.post(self.url, json={"query": query, "variables": variables})
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise EntitleUnavailable(f"the Entitle service cannot be reached: {exc}") from exc
                time.sleep(_backoff(attempt))
                continue
            return self._answer(response, field)
        raise AssertionError("unreachable")  # pragma: no cover

    def is_entitled(
        self,
        feature_key: str | None = None,
        *,
        tenant_key: str | None = None,
        user_key: str | None = None,
        permission_key: str | None = None,
        route: tuple[str, str] | None = None,
        usage: int | None = None,
        min_revision: str | None = None,
    ) -> Decision:
        """Ask ``isEntitledTo``; answers from the cache when it can, from ``fallback`` (or refuses) when the
        service cannot be reached."""
        subject = Subject(tenant_key, user_key)
        cacheable = feature_key is not None and permission_key is None and route is None and usage is None
        if cacheable and min_revision is None and feature_key is not None:
            if (hit := self._cached_decision(subject, feature_key)) is not None:
                return hit
            if self.cache is not None and self.cache.wants(subject):
                try:
                    self.effective_entitlements(tenant_key=tenant_key, user_key=user_key)
                except EntitleUnavailable:
                    return self._fallback_decision(feature_key)
                if (hit := self._cached_decision(subject, feature_key)) is not None:
                    return hit
        variables = self._check_variables(
            tenant_key, user_key, feature_key, permission_key, route, usage, min_revision
        )
        try:
            data = self.execute(docs.IS_ENTITLED, variables, "isEntitledTo")
        except EntitleUnavailable:
            return self._fallback_decision(feature_key)
        return Decision.from_graphql(data)

    def effective_entitlements(
        self, *, tenant_key: str | None = None, user_key: str | None = None, min_revision: str | None = None
    ) -> EffectiveEntitlements:
        subject = Subject(tenant_key, user_key)
        cache = self.cache
        if cache is not None and min_revision is None:
            if (hit := cache.get(subject)) is not None:
                return hit
            min_revision = cache.pending_revision(subject)
            cache.watch(subject)
        variables = {"t": tenant_key, "u": user_key, "m": min_revision}
        effective = EffectiveEntitlements.from_graphql(
            self.execute(docs.EFFECTIVE, variables, "effectiveEntitlements")
        )
        if cache is not None:
            cache.put(subject, effective, min_revision)
        return effective

    def report_usage(
        self,
        feature_key: str,
        amount: int = 1,
        *,
        tenant_key: str | None = None,
        user_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Decision:
        """Check and consume ``amount`` units; the idempotency key (made here when not given) is the same on
        every retry, so a retried report is counted once."""
        payload = self._report_input(feature_key, amount, tenant_key, user_key, idempotency_key)
        data = self.execute(docs.REPORT_USAGE, {"input": payload}, "reportUsage")
        self._note_write(Subject(tenant_key, user_key))
        return Decision.from_graphql(data)

    def reserve_usage(
        self,
        feature_key: str,
        amount: int,
        *,
        tenant_key: str | None = None,
        user_key: str | None = None,
        idempotency_key: str | None = None,
        expires_in_seconds: int | None = None,
    ) -> Reservation:
        """Hold ``amount`` units (§11): they count as used until committed, released or expired."""
        payload = self._report_input(feature_key, amount, tenant_key, user_key, idempotency_key)
        payload["expiresInSeconds"] = expires_in_seconds
        return Reservation.from_graphql(self.execute(docs.RESERVE_USAGE, {"input": payload}, "reserveUsage"))

    def commit_usage(self, reservation_id: str, amount: int | None = None) -> Reservation:
        data = self.execute(docs.COMMIT_USAGE, {"id": reservation_id, "amount": amount}, "commitUsage")
        return Reservation.from_graphql(data)

    def release_usage(self, reservation_id: str) -> Reservation:
        return Reservation.from_graphql(
            self.execute(docs.RELEASE_USAGE, {"id": reservation_id}, "releaseUsage")
        )


class AsyncEntitleClient(_Core):
    """Asynchronous client with the same methods as ``EntitleClient`` (awaitable)."""

    def __init__(self, url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT_S, **options: Any) -> None:
        super().__init__(url, token, **options)
        self._http = httpx.AsyncClient(timeout=timeout, headers=self.headers)

    async def __aenter__(self) -> AsyncEntitleClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        if self.cache is not None:
            await asyncio.to_thread(self.cache.close)

    async def execute(self, query: str, variables: dict[str, Any], field: str) -> Any:
        for attempt in range(self.retries + 1):
            try:
                response = await self._http.post(self.url, json={"query": query, "variables": variables})
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise EntitleUnavailable(f"the Entitle service cannot be reached: {exc}") from exc
                await asyncio.sleep(_backoff(attempt))
                continue
            return self._answer(response, field)
        raise AssertionError("unreachable")  # pragma: no cover

    async def is_entitled(
        self,
        feature_key: str | None = None,
        *,
        tenant_key: str | None = None,
        user_key: str | None = None,
        permission_key: str | None = None,
        route: tuple[str, str] | None = None,
        usage: int | None = None,
        min_revision: str | None = None,
    ) -> Decision:
        subject = Subject(tenant_key, user_key)
        cacheable = feature_key is not None and permission_key is None and route is None and usage is None
        if cacheable and min_revision is None and feature_key is not None:
            if (hit := self._cached_decision(subject, feature_key)) is not None:
                return hit
            if self.cache is not None and self.cache.wants(subject):
                try:
                    await self.effective_entitlements(tenant_key=tenant_key, user_key=user_key)
                except EntitleUnavailable:
                    return self._fallback_decision(feature_key)
                if (hit := self._cached_decision(subject, feature_key)) is not None:
                    return hit
        variables = self._check_variables(
            tenant_key, user_key, feature_key, permission_key, route, usage, min_revision
        )
        try:
            data = await self.execute(docs.IS_ENTITLED, variables, "isEntitledTo")
        except EntitleUnavailable:
            return self._fallback_decision(feature_key)
        return Decision.from_graphql(data)

    async def effective_entitlements(
        self, *, tenant_key: str | None = None, user_key: str | None = None, min_revision: str | None = None
    ) -> EffectiveEntitlements:
        subject = Subject(tenant_key, user_key)
        cache = self.cache
        if cache is not None and min_revision is None:
            if (hit := cache.get(subject)) is not None:
                return hit
            min_revision = cache.pending_revision(subject)
            cache.watch(subject)
        variables = {"t": tenant_key, "u": user_key, "m": min_revision}
        data = await self.execute(docs.EFFECTIVE, variables, "effectiveEntitlements")
        effective = EffectiveEntitlements.from_graphql(data)
        if cache is not None:
            cache.put(subject, effective, min_revision)
        return effective

    async def report_usage(
        self,
        feature_key: str,
        amount: int = 1,
        *,
        tenant_key: str | None = None,
        user_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Decision:
        payload = self._report_input(feature_key, amount, tenant_key, user_key, idempotency_key)
        data = await self.execute(docs.REPORT_USAGE, {"input": payload}, "reportUsage")
        self._note_write(Subject(tenant_key, user_key))
        return Decision.from_graphql(data)

    async def reserve_usage(
        self,
        feature_key: str,
        amount: int,
        *,
        tenant_key: str | None = None,
        user_key: str | None = None,
        idempotency_key: str | None = None,
        expires_in_seconds: int | None = None,
    ) -> Reservation:
        payload = self._report_input(feature_key, amount, tenant_key, user_key, idempotency_key)
        payload["expiresInSeconds"] = expires_in_seconds
        data = await self.execute(docs.RESERVE_USAGE, {"input": payload}, "reserveUsage")
        return Reservation.from_graphql(data)

    async def commit_usage(self, reservation_id: str, amount: int | None = None) -> Reservation:
        data = await self.execute(docs.COMMIT_USAGE, {"id": reservation_id, "amount": amount}, "commitUsage")
        return Reservation.from_graphql(data)

    async def release_usage(self, reservation_id: str) -> Reservation:
        data = await self.execute(docs.RELEASE_USAGE, {"id": reservation_id}, "releaseUsage")
        return Reservation.from_graphql(data)
