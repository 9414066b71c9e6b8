"""Metering depth rules (domain/metering.py), table-driven: thresholds, reservations' accounting, history."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from entitle.domain.changes import EVENT_KINDS, ChangeKind
from entitle.domain.errors import BadUserInput
from entitle.domain.metering import (
    Hold,
    ReservationStatus,
    commit_amount,
    earlier_periods,
    highest_reached,
    hold_duration,
    live_held,
    new_thresholds,
    over_limit,
    remaining,
    status_at,
    validate_thresholds,
)
from entitle.domain.model import ResetPeriod
from entitle.domain.periods import Period

T0 = datetime(2030, 1, 15, tzinfo=UTC)


def d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "expected"), [([], ()), ([100], (100,)), ([1, 50, 80, 100], (1, 50, 80, 100))]
)
def test_valid_thresholds(values: list[int], expected: tuple[int, ...]) -> None:
    assert validate_thresholds(values) == expected


@pytest.mark.parametrize("values", [[0], [101], [-5], [50, 50], [80, 50], [True], ["50"], list(range(1, 22))])
def test_invalid_thresholds_name_the_field(values: list[object]) -> None:
    with pytest.raises(BadUserInput) as raised:
        validate_thresholds(values)
    assert raised.value.field == "warningThresholds"


@pytest.mark.parametrize(
    ("thresholds", "limit", "used", "announced", "fresh", "highest"),
    [
        ([50, 80], 100, 49, 0, (), None),
        ([50, 80], 100, 50, 0, (50,), 50),  # "to or past"
        ([50, 80], 100, 84, 0, (50, 80), 80),  # several at once
        ([50, 80], 100, 84, 50, (80,), 80),  # 50 was announced this period
        ([50, 80], 100, 99, 80, (), 80),  # nothing new
        ([50, 100], 3, 2, 0, (50,), 50),  # 2/3 = 66 %
        ([100], 10, 10, 0, (100,), 100),
        ([50], 0, 0, 0, (), None),  # nothing used: nothing reached, even of a limit of 0
        ([50], 0, 1, 0, (50,), 50),
        ([50], None, 10**6, 0, (), None),  # unlimited: no thresholds
    ],
)
def test_thresholds_reached_by_a_consumption(
    thresholds: list[int],
    limit: int | None,
    used: int,
    announced: int,
    fresh: tuple[int, ...],
    highest: int | None,
) -> None:
    assert new_thresholds(thresholds, limit, used, announced) == fresh
    assert highest_reached(thresholds, limit, used) == highest


@pytest.mark.parametrize(
    ("limit", "used", "over"), [(10, 10, False), (10, 11, True), (None, 99, False), (0, 1, True)]
)
def test_over_the_limit(limit: int | None, used: int, over: bool) -> None:
    assert over_limit(limit, used) is over


@pytest.mark.parametrize(
    ("limit", "used", "held", "expected"),
    [(10, 0, 0, 10), (10, 3, 4, 3), (10, 8, 4, 0), (10, 12, 0, 0), (None, 5, 5, None)],
)
def test_remaining_counts_held_units_as_used_and_is_never_negative(
    limit: int | None, used: int, held: int, expected: int | None
) -> None:
    assert remaining(limit, used, held) == expected


@pytest.mark.parametrize(
    ("holds", "at", "expected"),
    [
        ([], T0, 0),
        ([Hold(3, T0 + timedelta(seconds=1)), Hold(4, T0 + timedelta(seconds=2))], T0, 7),
        ([Hold(3, T0), Hold(4, T0 + timedelta(seconds=2))], T0, 4),  # a hold expires exactly at expiresAt
        ([Hold(3, T0), Hold(4, T0)], T0 + timedelta(days=1), 0),
    ],
)
def test_only_live_holds_count(holds: list[Hold], at: datetime, expected: int) -> None:
    assert live_held(holds, at) == expected


@pytest.mark.parametrize(
    ("stored", "expires_at", "expected"),
    [
        (ReservationStatus.HELD, T0 + timedelta(seconds=1), ReservationStatus.HELD),
        (ReservationStatus.HELD, T0, ReservationStatus.EXPIRED),
        (ReservationStatus.COMMITTED, T0 - timedelta(days=1), ReservationStatus.COMMITTED),
        (ReservationStatus.REFUSED, T0 - timedelta(days=1), ReservationStatus.REFUSED),
    ],
)
def test_a_hold_past_its_expiry_reads_expired(
    stored: ReservationStatus, expires_at: datetime, expected: ReservationStatus
) -> None:
    assert status_at(stored, expires_at, T0) is expected


@pytest.mark.parametrize(("held", "requested", "expected"), [(5, None, 5), (5, 0, 0), (5, 3, 3), (5, 5, 5)])
def test_commit_amount(held: int, requested: int | None, expected: int) -> None:
    assert commit_amount(held, requested) == expected


@pytest.mark.parametrize(("held", "requested"), [(5, 6), (5, -1)])
def test_a_commit_never_takes_more_than_held(held: int, requested: int) -> None:
    with pytest.raises(BadUserInput) as raised:
        commit_amount(held, requested)
    assert raised.value.field == "amount"


@pytest.mark.parametrize(("seconds", "expected"), [(None, 300), (1, 1), (86_400, 86_400)])
def test_hold_duration(seconds: int | None, expected: int) -> None:
    assert hold_duration(seconds) == timedelta(seconds=expected)


@pytest.mark.parametrize("seconds", [0, -1, 86_401])
def test_bad_hold_duration(seconds: int) -> None:
    with pytest.raises(BadUserInput):
        hold_duration(seconds)


@pytest.mark.parametrize(
    ("reset", "anchor", "current", "count", "starts"),
    [
        (ResetPeriod.MONTH, d("2030-01-31T12:00"), Period(d("2030-03-31T12:00"), d("2030-04-30T12:00")), 3,
         ["2030-03-31T12:00", "2030-02-28T12:00", "2030-01-31T12:00"]),
        (ResetPeriod.MONTH, d("2030-01-31T12:00"), Period(d("2030-01-31T12:00"), d("2030-02-28T12:00")), 2,
         ["2030-01-31T12:00", "2029-12-31T12:00"]),  # before the anchor: the rhythm continues backwards
        (ResetPeriod.DAY, d("2030-01-01T06:00"), Period(d("2030-01-05T06:00"), d("2030-01-06T06:00")), 2,
         ["2030-01-05T06:00", "2030-01-04T06:00"]),
        (ResetPeriod.WEEK, None, Period(d("2030-01-14T00:00"), d("2030-01-21T00:00")), 2,
         ["2030-01-14T00:00", "2030-01-07T00:00"]),
        (ResetPeriod.YEAR, None, Period(d("2030-01-01T00:00"), d("2031-01-01T00:00")), 2,
         ["2030-01-01T00:00", "2029-01-01T00:00"]),
    ],
)  # fmt: skip
def test_earlier_periods_newest_first(
    reset: ResetPeriod, anchor: datetime | None, current: Period, count: int, starts: list[str]
) -> None:
    periods = earlier_periods(reset, anchor, current, count)
    assert [p.start for p in periods] == [d(s) for s in starts]
    assert all(a.start == b.end for a, b in itertools.pairwise(periods))


def test_usage_changes_have_webhook_event_names() -> None:
    assert EVENT_KINDS["usage.threshold_reached"] is ChangeKind.USAGE_THRESHOLD_REACHED
    assert EVENT_KINDS["usage.limit_exceeded"] is ChangeKind.USAGE_LIMIT_EXCEEDED
    assert EVENT_KINDS["usage.period_reset"] is ChangeKind.USAGE_PERIOD_RESET
