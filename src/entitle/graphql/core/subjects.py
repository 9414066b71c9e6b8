"""The subject a request may ask about."""

from __future__ import annotations

from entitle.domain.errors import Forbidden
from entitle.graphql.core.context import Context


def own_subject(
    context: Context, tenant_key: str | None, user_key: str | None
) -> tuple[str | None, str | None]:
    """The subject a caller may ask about: anything for a management key, itself for a user token."""
    principal = context.require_principal()
    if principal.is_management:
        return tenant_key, user_key
    if tenant_key is not None and tenant_key != principal.tenant_key:
        raise Forbidden("a user token may only ask about its own tenant")
    if user_key is not None and user_key != principal.user_key:
        raise Forbidden("a user token may only ask about its own user")
    return principal.tenant_key, principal.user_key
