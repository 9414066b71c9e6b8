"""Metering depth (contract §11): warning thresholds, reservations' accounting, usage history periods.

Pure rules, no clock: every function that depends on time takes ``at``.

- **Thresholds** are percents of the limit (1..100, strictly ascending). A threshold ``t`` is reached
  when ``used * 100 >= t * limit`` and ``used > 0`` (a limit of 0 is reached by any use). Each is
  announced once per period: the counter remembers the highest threshold announced.
- **Over the limit** (``used > limit``) under ALLOW/WARN, or the first refusal under BLOCK, is
  announced once per period.
- **Reservations** hold units: every check counts ``used + held`` against the limit; a hold stops
  counting at its ``expiresAt`` (status EXPIRED), whether or not anything has swept it yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from entitle.domain.errors import BadUserInput
from entitle.domain.model import ResetPeriod, Subject, SubscriptionContext
from entitle.domain.periods import Period, add_months, current_period

MAX_THRESHOLDS = 20
DEFAULT_HOLD = timedelta(seconds=300)
MAX_HOLD_S = 86_400
MAX_HISTORY_PERIODS = 120


# --------------------------------------------------------------------------- thresholds


SubjectId = tuple[str, int]
"""Whose usage is counted: ("T", tenant id) in organization context, ("U", user id) in individual context."""


def usage_subject(subject: Subject) -> SubjectId | None:
    """The counter a subject's metered usage goes to: its tenant's in organization context (every member
    shares it), else its user's; None when that tenant or user is unknown."""
    if subject.context is SubscriptionContext.ORGANIZATION:
        return None if subject.tenant is None else ("T", subject.tenant.id)
    return None if subject.user is None else ("U", subject.user.id)


def validate_thresholds(values: Sequence[object], field: str = "warningThresholds") -> tuple[int, ...]:
    """Percents of the limit, 1..100, strictly ascending (BAD_USER_INPUT naming ``field`` otherwise)."""
    if len(values) > MAX_THRESHOLDS:
        raise BadUserInput(f"{field}: at most {MAX_THRESHOLDS} thresholds", field=field)
    previous = 0
    checked: list[int] = []
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
            raise BadUserInput(
                f"{field}: each threshold is a percent from 1 to 100, got {value!r}", field=field
            )
        if value <= previous:
            raise BadUserInput(f"{field}: thresholds must be strictly ascending", field=field)
        previous = value
        checked.append(value)
    return tuple(checked)


def reached(threshold: int, limit: int, used: int) -> bool:
    return used > 0 and used * 100 >= threshold * limit


def highest_reached(thresholds: Sequence[int], limit: int | None, used: int) -> int | None:
    """The highest threshold ``used`` has reached (None: none, or no limit)."""
    if limit is None:
        return None
    hits = [t for t in thresholds if reached(t, limit, used)]
    return hits[-1] if hits else None


def new_thresholds(
    thresholds: Sequence[int], limit: int | None, used: int, announced: int
) -> tuple[int, ...]:
    """Thresholds reached by ``used`` and above ``announced`` (the highest already announced this period)."""
    if limit is None:
        return ()
    return tuple(t for t in thresholds if t > announced and reached(t, limit, used))


def threshold_warning(
    feature_key: str, thresholds: Sequence[int], limit: int | None, used: int
) -> str | None:
    top = highest_reached(thresholds, limit, used)
    if top is None:
        return None
    return f"usage {used} has reached {top}% of the limit of {limit} for {feature_key!r}"


def over_limit(limit: int | None, used: int) -> bool:
    return limit is not None and used > limit


# --------------------------------------------------------------------------- reservations


class ReservationStatus(StrEnum):
    HELD = "HELD"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    REFUSED = "REFUSED"


def hold_duration(seconds: int | None) -> timedelta:
    """``expiresInSeconds``: 1..86,400, default 300."""
    if seconds is None:
        return DEFAULT_HOLD
    if not 1 <= seconds <= MAX_HOLD_S:
        raise BadUserInput(f"expiresInSeconds must be between 1 and {MAX_HOLD_S}", field="expiresInSeconds")
    return timedelta(seconds=seconds)


def status_at(stored: ReservationStatus, expires_at: datetime, at: datetime) -> ReservationStatus:
    """A hold past its ``expires_at`` reads EXPIRED even before anything swept it."""
    if stored is ReservationStatus.HELD and expires_at <= at:
        return ReservationStatus.EXPIRED
    return stored


def commit_amount(held: int, requested: int | None) -> int:
    """Units a commit consumes: all held by default, never more than held, never negative."""
    if requested is None:
        return held
    if requested < 0:
        raise BadUserInput("amount must not be negative", field="amount")
    if requested > held:
        raise BadUserInput(f"amount {requested} is more than the {held} units held", field="amount")
    return requested


@dataclass(frozen=True, slots=True)
class Hold:
    amount: int
    expires_at: datetime


def live_held(holds: Sequence[Hold], at: datetime) -> int:
    """Units still held at ``at`` (expired holds no longer count)."""
    return sum(h.amount for h in holds if h.expires_at > at)


def remaining(limit: int | None, used: int, held: int) -> int | None:
    """What a check may still use: ``limit - used - held``, never negative (None: unlimited)."""
    return None if limit is None else max(0, limit - used - held)


# --------------------------------------------------------------------------- history


def check_history_size(count: int) -> None:
    if not 1 <= count <= MAX_HISTORY_PERIODS:
        raise BadUserInput(f"periods must be between 1 and {MAX_HISTORY_PERIODS}", field="periods")


def earlier_periods(reset: ResetPeriod, anchor: datetime | None, current: Period, count: int) -> list[Period]:
    """``current`` and the ``count - 1`` periods before it, newest first (the anchor's rhythm continued
    backwards; calendar periods without an anchor)."""
    check_history_size(count)
    periods = [current]
    while len(periods) < count:
        periods.append(_before(reset, anchor, periods[-1]))
    return periods


def _before(reset: ResetPeriod, anchor: datetime | None, period: Period) -> Period:
    if anchor is None:
        return current_period(reset, None, period.start - timedelta(microseconds=1))
    if reset is ResetPeriod.DAY:
        return Period(period.start - timedelta(days=1), period.start)
    if reset is ResetPeriod.WEEK:
        return Period(period.start - timedelta(days=7), period.start)
    months = 1 if reset is ResetPeriod.MONTH else 12
    steps = ((period.start.year - anchor.year) * 12 + period.start.month - anchor.month) // months
    return Period(add_months(anchor, (steps - 1) * months), period.start)
