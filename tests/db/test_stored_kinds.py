"""Records of stored rows, built positionally: what a page or a loader hands the API layer.

A ``StoredKind`` builds its record from the values of its table's columns in column order (no
mapping per row), and a page's rows carry the sort keys (and, nested, the parent and rank) as extra
columns after them. These pin that the two agree: every attribute of a record is the column of the
same name, and a page's records equal the records ``of(row)`` reads by column name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from entitle.db.pagination import PageArgs, paginate, paginate_many
from entitle.db.repositories import listings, rows
from entitle.db.repositories.subjects import TenantRecord, UserRecord
from entitle.db.tables import MEMBERSHIPS, TENANTS, USERS
from entitle.domain.metering import ReservationStatus

KINDS = {name: kind for name, kind in vars(rows).items() if isinstance(kind, rows.StoredKind)}
AT = datetime(2030, 1, 1, tzinfo=UTC)


def _value(kind: rows.StoredKind[object], column: sa.Column[object]) -> object:
    if kind is rows.USAGE_RESERVATION_ROWS and column.name == "status":
        return ReservationStatus.HELD.value
    if kind is rows.FEATURE_ROWS and column.name == "warning_thresholds":
        return [50, 80]
    return f"{column.name} value"


def test_every_kind_builds_its_record_from_the_columns_in_table_order() -> None:
    # given
    assert len(KINDS) == 13
    for name, kind in KINDS.items():
        columns = list(kind.table.columns)
        values = [_value(kind, column) for column in columns]
        # when
        record = kind.record(*values)
        # then
        for column, value in zip(columns, values, strict=True):
            assert getattr(record, column.name) == value, (name, column.name)
        assert len(record.__slots__) == len(columns), name


def test_a_feature_without_warning_thresholds_has_none_and_a_reservation_its_status() -> None:
    # given
    features = rows.FEATURE_ROWS
    reservations = rows.USAGE_RESERVATION_ROWS
    # when
    feature = features.record(*[None for _ in features.table.columns])
    reservation = reservations.record(
        *[
            ReservationStatus.COMMITTED.value if c.name == "status" else None
            for c in reservations.table.columns
        ]
    )
    # then
    assert feature.warning_thresholds == []
    assert reservation.status is ReservationStatus.COMMITTED


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            sa.insert(TENANTS),
            [
                {"key": f"t{i}", "name": None if i % 2 else f"Org {i}", "metadata": {"i": i}}
                | {"created_at": AT + timedelta(seconds=i), "updated_at": AT}
                for i in range(5)
            ],
        )
        await connection.execute(
            sa.insert(USERS),
            [
                {"key": f"u{i}", "name": f"User {i}", "email": None, "metadata": {}}
                | {"created_at": AT, "updated_at": AT + timedelta(seconds=i)}
                for i in range(4)
            ],
        )
        tenants = dict((await connection.execute(sa.select(TENANTS.c.key, TENANTS.c.id))).all())
        users = dict((await connection.execute(sa.select(USERS.c.key, USERS.c.id))).all())
        await connection.execute(
            sa.insert(MEMBERSHIPS),
            [{"tenant_id": tenants["t0"], "user_id": users[f"u{i}"]} for i in range(4)]
            + [{"tenant_id": tenants["t1"], "user_id": users["u3"]}],
        )
    yield engine
    await engine.dispose()


async def test_a_page_holds_the_records_of_its_rows_whatever_columns_follow_them(engine: AsyncEngine) -> None:
    # given
    listing = listings.keyed(rows.TENANT_ROWS)
    async with engine.connect() as connection:
        by_name = [
            TenantRecord.of(r) for r in await connection.execute(sa.select(TENANTS).order_by(TENANTS.c.id))
        ]
        # when
        first = await paginate(
            connection, listing.statement, listing.ordering, PageArgs(first=3), listing.record
        )
        last = await paginate(
            connection, listing.statement, listing.ordering, PageArgs(last=2), listing.record
        )
    # then
    assert first.records == by_name[:3]
    assert last.records == by_name[3:]
    assert all(type(record) is TenantRecord for record in first.records + last.records)
    assert (first.has_next_page, last.has_previous_page) == (True, True)


async def test_a_nested_page_holds_the_records_of_each_parents_rows(engine: AsyncEngine) -> None:
    # given
    child = listings.members_of_tenants()
    listing = child.listing
    async with engine.connect() as connection:
        ids = dict((await connection.execute(sa.select(TENANTS.c.key, TENANTS.c.id))).all())
        users = [UserRecord.of(r) for r in await connection.execute(sa.select(USERS).order_by(USERS.c.id))]
        # when
        pages = await paginate_many(
            connection,
            listing.statement,
            child.parent,
            [ids["t0"], ids["t1"], ids["t2"]],
            listing.ordering,
            PageArgs(first=3),
            listing.record,
        )
    # then
    assert pages[ids["t0"]].records == users[:3]
    assert pages[ids["t0"]].has_next_page is True
    assert pages[ids["t1"]].records == users[3:]
    assert pages[ids["t2"]].records == []
