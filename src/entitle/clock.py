"""The one clock. Domain code never calls it; services pass ``at`` down explicitly."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
