"""Usage periods: anchored steps, month-end clamping, leap years and UTC calendar boundaries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from entitle.domain.model import ResetPeriod
from entitle.domain.periods import Period, add_months, current_period
from tests.unit.builders import utc

DAY, WEEK, MONTH, YEAR = ResetPeriod.DAY, ResetPeriod.WEEK, ResetPeriod.MONTH, ResetPeriod.YEAR


@pytest.mark.parametrize(
    ("reset_period", "anchor", "at", "start", "end"),
    [
        pytest.param(
            DAY,
            utc(2025, 1, 1, 9, 30),
            utc(2025, 1, 3, 8, 0),
            utc(2025, 1, 2, 9, 30),
            utc(2025, 1, 3, 9, 30),
            id="day_periods_start_at_the_anchors_time_of_day",
        ),
        pytest.param(
            DAY,
            utc(2025, 1, 1, 9, 30),
            utc(2025, 1, 3, 9, 30),
            utc(2025, 1, 3, 9, 30),
            utc(2025, 1, 4, 9, 30),
            id="day_a_boundary_instant_starts_the_next_period",
        ),
        pytest.param(
            WEEK,
            utc(2025, 1, 1),
            utc(2025, 1, 20),
            utc(2025, 1, 15),
            utc(2025, 1, 22),
            id="week_periods_repeat_every_seven_days_from_the_anchor",
        ),
        pytest.param(
            MONTH,
            utc(2025, 1, 15, 12),
            utc(2025, 3, 20),
            utc(2025, 3, 15, 12),
            utc(2025, 4, 15, 12),
            id="month_periods_keep_the_anchors_day_and_time",
        ),
        pytest.param(
            MONTH,
            utc(2025, 1, 15, 12),
            utc(2025, 3, 10),
            utc(2025, 2, 15, 12),
            utc(2025, 3, 15, 12),
            id="month_before_the_anchor_day_is_still_in_the_previous_period",
        ),
        pytest.param(
            MONTH,
            utc(2025, 1, 31),
            utc(2025, 2, 10),
            utc(2025, 1, 31),
            utc(2025, 2, 28),
            id="month_anchor_on_the_31st_ends_on_the_last_day_of_february",
        ),
        pytest.param(
            MONTH,
            utc(2025, 1, 31),
            utc(2025, 3, 5),
            utc(2025, 2, 28),
            utc(2025, 3, 31),
            id="month_anchor_on_the_31st_returns_to_the_31st_after_february",
        ),
        pytest.param(
            MONTH,
            utc(2024, 1, 31),
            utc(2024, 2, 28, 23),
            utc(2024, 1, 31),
            utc(2024, 2, 29),
            id="month_period_ends_on_february_29_in_a_leap_year",
        ),
        pytest.param(
            MONTH,
            utc(2024, 1, 31),
            utc(2024, 2, 29),
            utc(2024, 2, 29),
            utc(2024, 3, 31),
            id="month_february_29_starts_a_period_in_a_leap_year",
        ),
        pytest.param(
            MONTH,
            utc(2020, 5, 10),
            utc(2025, 5, 9),
            utc(2025, 4, 10),
            utc(2025, 5, 10),
            id="month_years_after_the_anchor",
        ),
        pytest.param(
            MONTH,
            utc(2024, 12, 15),
            utc(2025, 1, 20),
            utc(2025, 1, 15),
            utc(2025, 2, 15),
            id="month_across_the_year_end",
        ),
        pytest.param(
            YEAR,
            utc(2023, 6, 1),
            utc(2025, 5, 31),
            utc(2024, 6, 1),
            utc(2025, 6, 1),
            id="year_periods_start_on_the_anchors_anniversary",
        ),
        pytest.param(
            YEAR,
            utc(2024, 2, 29),
            utc(2025, 3, 1),
            utc(2025, 2, 28),
            utc(2026, 2, 28),
            id="year_anchor_on_february_29_uses_the_28th_in_non_leap_years",
        ),
        pytest.param(
            YEAR,
            utc(2024, 2, 29),
            utc(2028, 3, 1),
            utc(2028, 2, 29),
            utc(2029, 2, 28),
            id="year_anchor_on_february_29_returns_to_the_29th_in_leap_years",
        ),
    ],
)
def test_anchored_periods_contain_the_instant(
    reset_period: ResetPeriod, anchor: datetime, at: datetime, start: datetime, end: datetime
) -> None:
    # when
    period = current_period(reset_period, anchor, at)
    # then
    assert period == Period(start, end)
    assert at in period


@pytest.mark.parametrize(
    ("reset_period", "end"),
    [
        pytest.param(DAY, utc(2025, 3, 11, 8), id="day"),
        pytest.param(WEEK, utc(2025, 3, 17, 8), id="week"),
        pytest.param(MONTH, utc(2025, 4, 10, 8), id="month"),
        pytest.param(YEAR, utc(2026, 3, 10, 8), id="year"),
    ],
)
def test_an_instant_before_the_anchor_gets_the_first_period(reset_period: ResetPeriod, end: datetime) -> None:
    anchor = utc(2025, 3, 10, 8)
    assert current_period(reset_period, anchor, utc(2025, 1, 1)) == Period(anchor, end)


@pytest.mark.parametrize(
    ("reset_period", "at", "start", "end"),
    [
        pytest.param(
            DAY, utc(2025, 3, 12, 17, 5), utc(2025, 3, 12), utc(2025, 3, 13), id="day_is_midnight_utc"
        ),
        pytest.param(
            DAY,
            utc(2025, 3, 12),
            utc(2025, 3, 12),
            utc(2025, 3, 13),
            id="day_midnight_belongs_to_the_new_day",
        ),
        pytest.param(
            WEEK, utc(2025, 3, 12, 17), utc(2025, 3, 10), utc(2025, 3, 17), id="week_starts_monday_iso_style"
        ),
        pytest.param(
            WEEK,
            utc(2025, 3, 16, 23, 59),
            utc(2025, 3, 10),
            utc(2025, 3, 17),
            id="week_sunday_is_the_last_day",
        ),
        pytest.param(WEEK, utc(2025, 1, 1), utc(2024, 12, 30), utc(2025, 1, 6), id="week_spans_the_year_end"),
        pytest.param(
            MONTH, utc(2025, 2, 28, 23), utc(2025, 2, 1), utc(2025, 3, 1), id="month_is_the_first_at_midnight"
        ),
        pytest.param(
            MONTH, utc(2025, 12, 31), utc(2025, 12, 1), utc(2026, 1, 1), id="month_december_ends_in_january"
        ),
        pytest.param(YEAR, utc(2024, 7, 4), utc(2024, 1, 1), utc(2025, 1, 1), id="year_is_january_first"),
    ],
)
def test_without_an_anchor_periods_follow_utc_calendar_boundaries(
    reset_period: ResetPeriod, at: datetime, start: datetime, end: datetime
) -> None:
    assert current_period(reset_period, None, at) == Period(start, end)


def test_non_utc_instants_are_compared_and_returned_in_utc() -> None:
    # given 2025-03-13 01:00 at +05:00, which is 2025-03-12 20:00 UTC
    at = datetime(2025, 3, 13, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    # when
    period = current_period(DAY, None, at)
    # then
    assert period == Period(utc(2025, 3, 12), utc(2025, 3, 13))
    assert period.start.utcoffset() == timedelta(0)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        current_period(DAY, None, datetime(2025, 1, 1))


def test_a_far_future_instant_is_computed_without_stepping_through_time() -> None:
    # given an anchor one thousand years before the instant (stepping day by day would be slow)
    anchor = utc(1025, 1, 31, 6)
    # when
    periods = [current_period(reset, anchor, utc(2025, 2, 10)) for reset in (DAY, WEEK, MONTH, YEAR)]
    # then
    assert periods[0] == Period(utc(2025, 2, 9, 6), utc(2025, 2, 10, 6))
    assert periods[2] == Period(utc(2025, 1, 31, 6), utc(2025, 2, 28, 6))
    assert periods[3] == Period(utc(2025, 1, 31, 6), utc(2026, 1, 31, 6))
    assert utc(2025, 2, 10) in periods[1]


@pytest.mark.parametrize(
    ("start", "months", "moved"),
    [
        pytest.param(utc(2025, 1, 31), 1, utc(2025, 2, 28), id="clamps_to_a_shorter_month"),
        pytest.param(utc(2025, 1, 31), 3, utc(2025, 4, 30), id="clamps_to_a_thirty_day_month"),
        pytest.param(utc(2025, 11, 30), 3, utc(2026, 2, 28), id="crosses_the_year"),
        pytest.param(utc(2025, 3, 31), -1, utc(2025, 2, 28), id="moves_backwards"),
    ],
)
def test_adding_months_clamps_the_day_to_the_month_end(start: datetime, months: int, moved: datetime) -> None:
    assert add_months(start, months) == moved
