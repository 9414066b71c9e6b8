"""Keyset pagination, written once and used by every connection.

A page is ordered by one or more sort expressions ending in the table's unique ``id``; a cursor
is the opaque encoding of those values for one row. ``after``/``before`` become row-value
comparisons, never OFFSET, so rows inserted while a client pages cannot shift what it sees:
rows that existed when it started are never repeated or skipped.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
import sqlalchemy as sa

from entitle.db.engine import Executor
from entitle.domain.errors import BadUserInput

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @classmethod
    def parse(cls, first: int | None, after: str | None, last: int | None, before: str | None) -> PageArgs:
        for name, value in (("first", first), ("last", last)):
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                raise BadUserInput(f"{name} must be between 0 and {MAX_PAGE_SIZE}", field=name)
        if first is not None and last is not None:
            raise BadUserInput("give either first or last, not both", field="last")
        if last is None and first is None:
            first = DEFAULT_PAGE_SIZE
        return cls(first=first, after=after, last=last, before=before)


@dataclass(frozen=True, slots=True)
class SortKey:
    expression: Any
    kind: Literal["int", "datetime", "str"]


@dataclass(frozen=True, slots=True)
class Ordering:
    keys: tuple[SortKey, ...]
    descending: bool = False

    @classmethod
    def by_id(cls, table: sa.Table, *, descending: bool = False) -> Ordering:
        return cls((SortKey(table.c.id, "int"),), descending)


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Any]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(plain)).decode().rstrip("=")


def decode_cursor(cursor: str, ordering: Ordering, field: str) -> tuple[Any, ...]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(ordering.keys):
            raise ValueError
        values: list[Any] = []
        for key, value in zip(ordering.keys, raw, strict=True):
            if key.kind == "int":
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
                    raise ValueError
                values.append(value)
            elif key.kind == "datetime":
                instant = datetime.fromisoformat(value)
                if instant.tzinfo is None:
                    raise ValueError
                values.append(instant)
            else:
                values.append(str(value))
        return tuple(values)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise BadUserInput(f"{field} is not a valid cursor for this list", field=field) from None


async def paginate(session: Executor, statement: sa.Select[Any], ordering: Ordering, args: PageArgs) -> Page:
    """Run ``statement`` (a filtered select) for one page; rows carry the selected columns."""
    expressions = [key.expression for key in ordering.keys]
    row_value = sa.tuple_(*expressions)
    if args.after is not None:
        after = decode_cursor(args.after, ordering, "after")
        statement = statement.where(row_value < after if ordering.descending else row_value > after)
    if args.before is not None:
        before = decode_cursor(args.before, ordering, "before")
        statement = statement.where(row_value > before if ordering.descending else row_value < before)

    forward = args.last is None
    size = args.first if forward else args.last
    assert size is not None
    descending = ordering.descending if forward else not ordering.descending
    order = [e.desc() if descending else e.asc() for e in expressions]
    labelled = [e.label(f"_sort{i}") for i, e in enumerate(expressions)]
    statement = statement.add_columns(*labelled).order_by(*order).limit(size + 1)

    rows = list((await session.execute(statement)).all())
    has_more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    width = len(expressions)
    cursors = [encode_cursor(tuple(row)[-width:]) for row in rows]
    return Page(
        rows=rows,
        cursors=cursors,
        has_next_page=has_more if forward else args.before is not None,
        has_previous_page=args.after is not None if forward else has_more,
    )


async def count(session: Executor, statement: sa.Select[Any]) -> int:
    counted = sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)
