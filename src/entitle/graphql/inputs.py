"""Inputs shared by several domains, and the one helper that turns an input into a dict of given fields."""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry
from strawberry.types.unset import UNSET


@strawberry.input(description="Narrow a catalog or subject listing.")
class KeyFilter:
    keys: list[str] | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the key or the name."
    )


def given_fields(value: Any) -> dict[str, Any]:
    """The fields of a strawberry input the caller actually sent (UNSET ones left out), snake_case."""
    return {
        f.name: getattr(value, f.name)
        for f in dataclasses.fields(value)
        if getattr(value, f.name) is not UNSET
    }
