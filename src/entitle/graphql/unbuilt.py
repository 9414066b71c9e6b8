"""One way to say that a contract field is in the schema but not built yet (``NOT_IMPLEMENTED``)."""

from __future__ import annotations

from typing import NoReturn

from entitle.domain.errors import NotBuiltYet

CHANGE_FEED = "the change feed (contract §9)"
WEBHOOKS = "webhooks (contract §10)"
LIFECYCLE = "plan versions and metering depth (contract §11)"


def not_built(what: str, part: str, *, field: str | None = None) -> NoReturn:
    raise NotBuiltYet(f"{what} is part of {part}, which this version does not provide yet", field=field)


def refuse_unbuilt_argument(value: object, name: str, part: str) -> None:
    """An optional argument of an unbuilt part is accepted only when it is left out (or null)."""
    if value is not None:
        not_built(f"`{name}`", part, field=name)
