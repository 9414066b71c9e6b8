"""What a caller may write about a tenant or a user: upserted by key, fields left out keep their value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from entitle.domain.model import JsonValue
from entitle.domain.patch import UNSET, Omittable


@dataclass(frozen=True, slots=True)
class TenantFields:
    """One tenant to create or update by ``key``; ``UNSET`` fields keep their stored value (a new tenant:
    no name, ``{}`` metadata), ``None`` clears them. Not validated yet: ``metadata`` must be an object."""

    key: str
    name: Omittable[str | None] = UNSET
    metadata: Omittable[JsonValue] = UNSET


@dataclass(frozen=True, slots=True)
class UserFields:
    """One user to create or update by ``key``, like ``TenantFields``; ``tenant_keys`` are memberships
    to add (existing ones are kept)."""

    key: str
    name: Omittable[str | None] = UNSET
    email: Omittable[str | None] = UNSET
    metadata: Omittable[JsonValue] = UNSET
    tenant_keys: Omittable[Sequence[str] | None] = UNSET


SubjectFields = TenantFields | UserFields
