"""Inputs shared by several domains, and the one place strawberry's UNSET becomes the services' one."""

from __future__ import annotations

from typing import TypeVar

import strawberry
from strawberry.types.unset import UNSET

from entitle.domain import patch
from entitle.domain.errors import BadUserInput
from entitle.domain.model import JsonValue, json_value
from entitle.graphql.core.scalars import JSON
from entitle.services import listings
from entitle.services.listings import Listing

R = TypeVar("R")


@strawberry.input(description="Narrow a catalog or subject listing.")
class KeyFilter:
    keys: list[str] | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the key or the name."
    )


MAX_FILTER_KEYS = 10_000


def check_filter_size(values: list[str] | None, field: str) -> None:
    """Filters by key lists are bounded (one bind parameter per key)."""
    if values is not None and len(values) > MAX_FILTER_KEYS:
        raise BadUserInput(f"{field} lists at most {MAX_FILTER_KEYS} keys", field=field)


def keyed_rows(kind: listings.KeyedKind[R], filter: KeyFilter | None) -> Listing[R]:
    """The features, plans, tenants, users or flags (``lookups.FEATURE_ROWS``, ...) matching ``filter``."""
    if filter is None:
        return listings.keyed(kind)
    check_filter_size(filter.keys, "filter.keys")
    return listings.keyed(kind, filter.keys, filter.search)


T = TypeVar("T")


def omittable(value: T) -> patch.Omittable[T]:
    """A patch field of a command from an input field: strawberry's ``UNSET`` (not sent) becomes the
    services' ``UNSET``; anything else (``None`` included) is kept."""
    return patch.UNSET if value is UNSET else value


def json_field(value: JSON | None) -> JsonValue:
    """A ``JSON`` input field as the JSON value it holds (strawberry types the scalar as ``object``)."""
    return json_value(value)


def omittable_json(value: JSON | None) -> patch.Omittable[JsonValue]:
    """``omittable`` for a ``JSON`` input field."""
    return patch.UNSET if value is UNSET else json_value(value)
