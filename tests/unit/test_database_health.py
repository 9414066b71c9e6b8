"""What counts as a database outage, and the outage log: one line per state change, rate-limited."""

from __future__ import annotations

import logging
import sqlite3

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from entitle.db.health import DatabaseHealth, unavailable_reason


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wrapped(cause: BaseException, outer: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        TimeoutError(),
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        wrapped(sqlite3.OperationalError("database is locked"), RuntimeError("wrapper")),
        sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
    ],
    ids=repr,
)
def test_outages_have_a_short_reason(error: BaseException) -> None:
    reason = unavailable_reason(wrapped(error, sa_exc.StatementError("stmt", "SELECT 1", {}, None)))
    assert reason
    assert "SELECT" not in reason
    assert "\n" not in reason


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        sqlite3.OperationalError('near "SELEC": syntax error'),
        sa_exc.OperationalError("SELEC 1", {}, sqlite3.OperationalError('near "SELEC": syntax error')),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'),
    ],
    ids=repr,
)
def test_other_errors_are_not_outages(error: BaseException) -> None:
    assert unavailable_reason(error) is None


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "entitle.database"]


def test_an_outage_logs_one_line_when_it_starts_and_one_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given
    caplog.set_level(logging.INFO)
    clock = Clock()
    health = DatabaseHealth(clock=clock)
    # when: 1,000 failing requests over 20 s, then recovery
    for _ in range(1000):
        health.failed("connection refused")
        clock.now += 0.02
    health.succeeded()
    health.succeeded()
    # then
    assert messages(caplog) == [
        "database unavailable: connection refused",
        "database available again (after 20.0 s)",
    ]
    assert not any(record.exc_info for record in caplog.records)


def test_a_flapping_database_logs_at_most_one_outage_per_interval_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: an outage was just logged
    caplog.set_level(logging.INFO)
    clock = Clock()
    health = DatabaseHealth(min_log_interval_s=60, clock=clock)
    health.failed("timed out")
    health.succeeded()
    # when: 30 brief outages in the next 30 s, then one that lasts past the interval
    for _ in range(30):
        clock.now += 1
        health.failed("timed out")
        health.succeeded()
    health.failed("connection refused")
    clock.now += 40
    health.failed("connection refused")
    # then
    assert messages(caplog) == [
        "database unavailable: timed out",
        "database available again (after 0.0 s)",
        "database unavailable: connection refused (and 30 brief outage(s) since the last report)",
    ]
    assert not health.available
