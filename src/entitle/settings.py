"""One settings object, read from the environment (and an optional ``.env``)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of contract §1; the field name upper-cased is the variable."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(default="sqlite+aiosqlite:///./entitle.db", alias="DATABASE_URL")
    entitle_bootstrap_api_key: str | None = None
    entitle_jwt_secret: str | None = None
    entitle_jwt_public_key: str | None = None
    entitle_jwt_audience: str | None = None
    entitle_jwt_issuer: str | None = None
    entitle_tenant_claim: str = "tenantId"
    entitle_introspection: bool = True
    entitle_max_batch: int = Field(default=10_000, ge=1)
    entitle_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    entitle_max_depth: int = Field(default=10, ge=1)
    entitle_max_aliases: int = Field(default=50, ge=1)
    entitle_max_tokens: int = Field(default=20_000, ge=100)
    entitle_cache_poll_ms: int = Field(default=50, ge=5)
    """How often each process reads the change feed for changes made by other processes (SQLite; and
    PostgreSQL while its tail is behind or without change notifications)."""
    entitle_cache_idle_poll_ms: int = Field(default=1_000, ge=5)
    """PostgreSQL with change notifications arriving and nothing left to read: the feed's heartbeat."""
    entitle_subject_cache_size: int = Field(default=100_000, ge=1)
    """Most subjects' decision contexts a process keeps (least recently used go first)."""
    entitle_subject_cache_mb: int = Field(default=256, ge=1)
    """And at most about this many MiB of them (an estimate per cached subject: ~0.4 KiB plus ~0.26 KiB
    per entitlement of its context); whichever bound is reached first evicts."""
    entitle_compiled_queries: bool = True
    """Answer the hot documents (``isEntitledTo``) by their compiled plans (graphql/compiled.py)."""
    entitle_db_pool_size: int = Field(default=10, ge=1)
    entitle_db_connect_timeout_s: float = Field(default=3.0, gt=0)
    """Longest wait for a new database connection (PostgreSQL: TCP connect and startup)."""
    entitle_db_statement_timeout_s: float = Field(default=5.0, gt=0)
    """Longest a statement may run (PostgreSQL ``statement_timeout``, and the client-side bound on
    waiting for an answer, which is what ends a wait on a frozen server)."""
    entitle_db_pool_timeout_s: float = Field(default=5.0, gt=0)
    """Longest a request waits for a free pooled connection."""
    entitle_sqlite_busy_timeout_s: float = Field(default=30.0, gt=0)
    """SQLite: longest a statement waits for another connection's write lock."""
    entitle_db_wait_s: float = Field(default=30.0, ge=0)
    """``entitle serve``: how long to wait for the database to come up before giving up."""
    entitle_readyz_timeout_s: float = Field(default=2.0, gt=0)
    """``/readyz`` answers 503 when the database has not answered within this."""
    entitle_cache_max_stale_s: float = Field(default=30.0, ge=0)
    """While the database is unreachable, cached answers are served for at most this long after the
    last successful revision check; then the caches are dropped (0: drop them at the first failed check)."""
    entitle_metrics: bool = True
    """GET /metrics (Prometheus) and the recording behind it."""
    entitle_scheduler: bool = True
    """Append ENTITLEMENT_STARTED / ENTITLEMENT_EXPIRED changes when grants start or expire (§9)."""
    entitle_webhooks: bool = True
    """Run the webhook delivery worker in this process (contract §10)."""
    entitle_webhook_allow_private: bool = False
    """Allow webhook URLs that resolve to loopback, private, link-local or reserved addresses."""
    entitle_webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    entitle_webhook_retry_base_s: float = Field(default=5.0, gt=0)
    """The first retry's delay (with jitter); each next one is 3x longer, capped at 4 h."""
    entitle_webhook_retry_window_s: float = Field(default=86_400.0, gt=0)
    """How long a delivery is retried before it is ``FAILED``."""
    entitle_webhook_concurrency: int = Field(default=32, ge=1)
    """Requests in flight at once in this process (each endpoint has at most one)."""
    entitle_webhook_poll_ms: int = Field(default=200, ge=5)
    entitle_webhook_lease_s: float = Field(default=30.0, ge=1)
    """How long a process holds the deliveries it is sending; a killed process's lease runs out."""
    entitle_log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per line for every request and every warning or error (contract §12)."""
    entitle_decision_log: Literal["off", "denied", "all"] = "off"
    """Which ``isEntitledTo`` decisions are recorded (asynchronously) for ``decisionLog``."""
    entitle_decision_log_days: int = Field(default=30, ge=1)
    """Recorded decisions older than this are deleted."""
    entitle_decision_log_queue: int = Field(default=10_000, ge=1)
    """Decisions waiting in memory to be written, per process; beyond it they are dropped and counted."""
    entitle_decision_log_flush_ms: int = Field(default=1_000, ge=10)
    """How often queued decisions are written (and at once when a batch of 1,000 is full)."""
    entitle_rate_limit: float | None = Field(default=None, gt=0)
    """Requests per second per API key or user token (per process); unset: no limit."""
    entitle_rate_limit_burst: int | None = Field(default=None, ge=1)
    """Requests a caller may send at once after being idle; default: one second's worth (at least 1)."""
    entitle_trusted_documents: Path | None = None
    """A JSON file mapping SHA-256 hashes to GraphQL documents (persisted / trusted documents)."""
    entitle_trusted_only: bool = False
    """Refuse every document that is not in ``ENTITLE_TRUSTED_DOCUMENTS``."""

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
