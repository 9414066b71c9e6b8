"""Partial updates: a field left out (``UNSET``) is not the same as a field set to ``None``.

A patch command types each optional field ``Omittable[T]``: either a ``T`` (``None`` included when the
field is nullable: "clear it") or ``UNSET`` ("keep the stored value"). ``UNSET`` is an enum member, so
``field is UNSET`` narrows the type for mypy.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal, TypeAlias, TypeVar

T = TypeVar("T")


class Unset(Enum):
    UNSET = "UNSET"

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET

Omittable: TypeAlias = T | Literal[Unset.UNSET]
"""A patch field: a value, or ``UNSET`` when the caller did not give it."""


def given(value: object) -> bool:
    """Whether a patch field was given (``None`` counts as given: it clears the field)."""
    return value is not UNSET
