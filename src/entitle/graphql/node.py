"""The ``Node`` interface and opaque global ids (base64 of ``TypeName:id``)."""

from __future__ import annotations

import base64
import binascii

import strawberry

from entitle.domain.errors import BadUserInput
from entitle.domain.text import shown


@strawberry.interface(description="An object with a global id, resolvable with node(id:).")
class Node:
    id: strawberry.ID


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{pk}".encode()).decode())


MAX_PK = 2**31 - 1


def from_global_id(global_id: str, *, field: str = "id") -> tuple[str, int]:
    """(type name, primary key) of an id this API issued; anything else is ``BAD_USER_INPUT``."""
    try:
        type_name, _, raw_pk = base64.b64decode(global_id, validate=True).decode().partition(":")
        pk = int(raw_pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"{shown(global_id)} is not a valid id", field=field) from None
    if not 1 <= pk <= MAX_PK:
        raise BadUserInput(f"{shown(global_id)} is not a valid id", field=field)
    return type_name, pk


def pk_of(global_id: str, expected_type: str, *, field: str = "id") -> int | None:
    """The primary key in ``global_id`` if it names an ``expected_type``, else None."""
    type_name, pk = from_global_id(global_id, field=field)
    return pk if type_name == expected_type else None
