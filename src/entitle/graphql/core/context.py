"""The per-request context: who is calling, the runtime, and lazily created dataloaders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.types import Info as StrawberryInfo

from entitle.auth import Principal
from entitle.domain.errors import Forbidden
from entitle.services.runtime import Runtime

if TYPE_CHECKING:
    from entitle.graphql.core.loaders import Loaders


class Context:
    __slots__ = ("_loaders", "connection_params", "principal", "runtime")

    def __init__(self, runtime: Runtime, principal: Principal | None) -> None:
        self.runtime = runtime
        self.principal = principal
        self._loaders: Loaders | None = None
        self.connection_params: object = None
        """A WebSocket's ``connection_init`` payload (strawberry sets it): where its token is."""

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from entitle.graphql.core.loaders import Loaders

            self._loaders = Loaders(self.runtime)
        return self._loaders

    def require_principal(self) -> Principal:
        """The caller, for resolvers that act on who it is (field access itself is checked by
        ``graphql.core.permissions``)."""
        if self.principal is None:  # only the GraphiQL page is served without one
            raise Forbidden("authentication required")
        return self.principal


Info = StrawberryInfo[Context, None]
