"""Scalars: ``DateTime`` (ISO-8601 with an offset, always answered in UTC) and ``JSON``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

from entitle.domain.text import shown

__all__ = ["JSON", "DateTime", "scalar_map"]

DateTime = NewType("DateTime", datetime)

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC)
"""Accepted instants: far from the calendar's ends, so periods and trial lengths can never overflow."""


def _serialize(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string with an offset, e.g. 2026-01-31T12:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{shown(value)} is not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{shown(value)} has no UTC offset; add 'Z' or '+00:00'")
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        parsed = EARLIEST - timedelta(days=1)  # out of range either way; reported below
    if not EARLIEST <= parsed <= LATEST:
        raise ValueError(
            f"{shown(value)} is outside the supported range (years {EARLIEST.year} to {LATEST.year})"
        )
    return parsed


_DATETIME: ScalarDefinition = strawberry.scalar(
    name="DateTime",
    description="ISO-8601 date-time with an offset; returned in UTC.",
    serialize=_serialize,
    parse_value=_parse,
)

scalar_map: dict[object, ScalarDefinition] = {datetime: _DATETIME, DateTime: _DATETIME}
