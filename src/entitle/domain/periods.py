"""Usage periods of metered features.

A period is the half-open interval ``[start, end)``. Periods are anchored at the ``startDate`` of
the grant (the anchor), or fall on UTC calendar boundaries when there is no anchor (a flag-only
grant). Month and year steps keep the anchor's day and clamp it to the end of shorter months:
an anchor on Jan 31 gives Feb 28 (29 in leap years), then Mar 31; Feb 29 gives Feb 28 in
non-leap years. Everything is computed arithmetically (O(1)), never by stepping through time.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from entitle.domain.model import ResetPeriod

_FIXED_STEPS = {ResetPeriod.DAY: timedelta(days=1), ResetPeriod.WEEK: timedelta(days=7)}
_MONTHS_PER_STEP = {ResetPeriod.MONTH: 1, ResetPeriod.YEAR: 12}


@dataclass(frozen=True, slots=True)
class Period:
    """The half-open interval ``[start, end)``; both ends are UTC."""

    start: datetime
    end: datetime

    def __contains__(self, at: datetime) -> bool:
        return self.start <= at < self.end


def current_period(reset_period: ResetPeriod, anchor: datetime | None, at: datetime) -> Period:
    """The period of ``reset_period`` that contains ``at``.

    With an ``anchor``, periods start at ``anchor`` and repeat every step; when ``at`` is before
    the anchor, the first period ``[anchor, anchor + step)`` is returned. Without an anchor,
    periods follow UTC calendar boundaries (midnight, ISO week from Monday, 1st of the month,
    Jan 1). Datetimes must be timezone-aware; they are compared and returned in UTC.
    """
    at = _utc(at, "at")
    if anchor is None:
        return _calendar_period(reset_period, at)
    anchor = _utc(anchor, "anchor")
    fixed = _FIXED_STEPS.get(reset_period)
    if fixed is not None:
        steps = max(0, (at - anchor) // fixed)
        start = anchor + steps * fixed
        return Period(start, start + fixed)
    months = _MONTHS_PER_STEP[reset_period]
    if at < anchor:
        return Period(anchor, add_months(anchor, months))
    elapsed = (at.year - anchor.year) * 12 + (at.month - anchor.month)
    steps = elapsed // months
    start = add_months(anchor, steps * months)
    if start > at:
        steps -= 1
        start = add_months(anchor, steps * months)
    return Period(start, add_months(anchor, (steps + 1) * months))


def add_months(anchor: datetime, months: int) -> datetime:
    """``anchor`` moved by ``months`` calendar months, its day clamped to the target month's end."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def _calendar_period(reset_period: ResetPeriod, at: datetime) -> Period:
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if reset_period is ResetPeriod.DAY:
        return Period(midnight, midnight + timedelta(days=1))
    if reset_period is ResetPeriod.WEEK:
        monday = midnight - timedelta(days=midnight.weekday())
        return Period(monday, monday + timedelta(days=7))
    if reset_period is ResetPeriod.MONTH:
        first = midnight.replace(day=1)
        return Period(first, add_months(first, 1))
    january_first = midnight.replace(month=1, day=1)
    return Period(january_first, january_first.replace(year=january_first.year + 1))


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    if value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)
