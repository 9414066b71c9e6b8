"""Keyset pagination, written once and used by every connection.

A page is ordered by one or more sort expressions ending in the table's unique ``id``; a cursor
is the opaque encoding of those values for one row. ``after``/``before`` become row-value
comparisons, never OFFSET, so rows inserted while a client pages cannot shift what it sees:
rows that existed when it started are never repeated or skipped.

A page holds typed records, not rows: ``record`` builds one from the values of the statement's
own columns, positionally (the sort keys and the window's bookkeeping are extra columns after them,
read here for the cursors and never handed on).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeAlias, TypeVar

import orjson
import sqlalchemy as sa

from entitle.db.engine import Executor
from entitle.db.repositories import ResultRow
from entitle.domain.errors import BadUserInput

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

R = TypeVar("R")

CursorValue: TypeAlias = int | datetime | str
"""One sort key's value in a cursor (``SortKey.kind``: int, datetime or str)."""


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
    expression: sa.ColumnElement[Any]
    kind: Literal["int", "datetime", "str"]


@dataclass(frozen=True, slots=True)
class Ordering:
    keys: tuple[SortKey, ...]
    descending: bool = False

    @classmethod
    def by_id(cls, table: sa.Table, *, descending: bool = False) -> Ordering:
        return cls((SortKey(table.c.id, "int"),), descending)


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    """One page of records in the listing's order, each with its cursor."""

    records: list[R]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def encode_cursor(values: Sequence[CursorValue]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(plain)).decode().rstrip("=")


def decode_cursor(cursor: str, ordering: Ordering, field: str) -> tuple[CursorValue, ...]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(ordering.keys):
            raise ValueError
        values: list[CursorValue] = []
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


_PARENT = "parent_key_"
_RANK = "rank_in_parent_"


@dataclass(frozen=True, slots=True)
class _Plan:
    """A page request turned into SQL: the filtered statement, its order, and the page size."""

    statement: sa.Select[Any]
    width: int
    """How many columns ``statement`` selects: a record's values, the first columns of each row."""
    order: list[sa.UnaryExpression[Any]]
    labelled: list[sa.Label[Any]]
    size: int
    forward: bool


def _plan(statement: sa.Select[Any], ordering: Ordering, args: PageArgs) -> _Plan:
    width = len(statement.selected_columns)
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
    return _Plan(statement, width, order, labelled, size, forward)


def _page(
    rows: Sequence[ResultRow], keys: Sequence[str], plan: _Plan, args: PageArgs, record: Callable[..., R]
) -> Page[R]:
    """The page from up to ``size + 1`` rows in query order (the extra one says there is more);
    ``keys``: the result's column names."""
    has_more = len(rows) > plan.size
    kept = list(rows[: plan.size])
    if not plan.forward:
        kept.reverse()
    first = keys.index(plan.labelled[0].name)
    sort_keys = slice(first, first + len(plan.labelled))
    width = plan.width
    return Page(
        records=[record(*row[:width]) for row in kept],
        cursors=[encode_cursor(row[sort_keys]) for row in kept],
        has_next_page=has_more if plan.forward else args.before is not None,
        has_previous_page=args.after is not None if plan.forward else has_more,
    )


async def paginate(
    session: Executor, statement: sa.Select[Any], ordering: Ordering, args: PageArgs, record: Callable[..., R]
) -> Page[R]:
    """Run ``statement`` (a filtered select) for one page; ``record`` takes the values of the
    statement's columns of one row, in order (the record class of a ``select(table)``)."""
    plan = _plan(statement, ordering, args)
    query = plan.statement.add_columns(*plan.labelled).order_by(*plan.order).limit(plan.size + 1)
    result = await session.execute(query)
    return _page(result.all(), list(result.keys()), plan, args, record)


async def paginate_many(
    session: Executor,
    statement: sa.Select[Any],
    parent: sa.ColumnElement[int],
    parent_ids: Sequence[int],
    ordering: Ordering,
    args: PageArgs,
    record: Callable[..., R],
) -> dict[int, Page[R]]:
    """The same page of ``statement`` for each parent (``parent``: the column naming it), in ONE query.

    Rows are ranked within each parent (``ROW_NUMBER() OVER (PARTITION BY parent ...)``) and only the
    first ``size + 1`` of each are kept, so nested connections cost one statement per page of parents.
    """
    plan = _plan(statement, ordering, args)
    rank = sa.func.row_number().over(partition_by=parent, order_by=plan.order).label(_RANK)
    ranked = (
        plan.statement.where(parent.in_(list(parent_ids)))
        .add_columns(parent.label(_PARENT), *plan.labelled, rank)
        .subquery()
    )
    query = (
        sa.select(ranked).where(ranked.c[_RANK] <= plan.size + 1).order_by(ranked.c[_PARENT], ranked.c[_RANK])
    )
    result = await session.execute(query)
    keys = list(result.keys())
    parent_at = keys.index(_PARENT)
    grouped: dict[int, list[ResultRow]] = {parent_id: [] for parent_id in parent_ids}
    for row in result.all():
        grouped[row[parent_at]].append(row)
    return {parent_id: _page(rows, keys, plan, args, record) for parent_id, rows in grouped.items()}


async def count_many(
    session: Executor, statement: sa.Select[Any], parent: sa.ColumnElement[int], parent_ids: Sequence[int]
) -> dict[int, int]:
    """How many rows of ``statement`` each parent has, in one grouped query."""
    inner = statement.where(parent.in_(list(parent_ids))).add_columns(parent.label(_PARENT)).order_by(None)
    sub = inner.subquery()
    query = sa.select(sub.c[_PARENT], sa.func.count()).group_by(sub.c[_PARENT])
    counts: dict[int, int] = {row[0]: int(row[1]) for row in (await session.execute(query)).all()}
    return {parent_id: counts.get(parent_id, 0) for parent_id in parent_ids}


async def count(session: Executor, statement: sa.Select[Any]) -> int:
    counted = sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)
