"""Who may resolve a field, as strawberry permission classes (contract §2).

Each class refuses with the domain's ``Forbidden`` (``extensions.code`` FORBIDDEN, the message
below), so a refusal leaves through the one error mapper like any other domain error. A caller
is told the first thing it lacks: ``CanWrite`` refuses a user token with ``IsManagement``'s
message, and both refuse a missing principal with ``IsAuthenticated``'s. One permission class per
field (each extension check costs ~1 µs per resolved field). They are applied with
``use_directives=False``: strawberry would otherwise add a schema directive per permission class,
and the published schema is fixed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension

from entitle.auth import Principal
from entitle.domain.errors import Forbidden

if TYPE_CHECKING:
    from entitle.graphql.core.context import Info


class _Refusal(BasePermission):
    def on_unauthorized(self) -> None:
        raise Forbidden(self.message or "")


class IsAuthenticated(_Refusal):
    """Any principal: a management key or a user token (only the GraphiQL page has none)."""

    message = "authentication required"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal is not None


def _principal(info: Info) -> Principal:
    principal = info.context.principal
    if principal is None:
        raise Forbidden(IsAuthenticated.message)
    return principal


class IsManagement(_Refusal):
    message = "a management API key is required for this field"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return _principal(info).is_management


class CanWrite(_Refusal):
    """A management key that is not read-only."""

    message = "this API key is read-only: mutations are not allowed"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = _principal(info)
        if not principal.is_management:
            raise Forbidden(IsManagement.message)
        return not principal.read_only


def requires(permission: type[BasePermission]) -> list[FieldExtension]:
    """The field extension that checks ``permission``, without a schema directive."""
    return [PermissionExtension([permission()], use_directives=False)]


def authenticated() -> list[FieldExtension]:
    return requires(IsAuthenticated)


def management() -> list[FieldExtension]:
    return requires(IsManagement)


def writer() -> list[FieldExtension]:
    return requires(CanWrite)
