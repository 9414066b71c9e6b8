"""Small shared pieces of the use cases: a lookup by key that raises the right error."""

from __future__ import annotations

from typing import TypeVar

from entitle.domain.errors import NotFound
from entitle.domain.text import shown

T = TypeVar("T")


def found(record: T | None, key: str, *, what: str, field: str = "key") -> T:
    """``record``, or NOT_FOUND naming ``field`` when the lookup by ``key`` found nothing."""
    if record is None:
        raise NotFound(f"no {what} with key {shown(key)}", field=field)
    return record
