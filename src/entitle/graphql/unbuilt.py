"""One way to say that a contract field is in the schema but not built yet (``NOT_IMPLEMENTED``)."""

from __future__ import annotations

from typing import NoReturn

from entitle.domain.errors import NotBuiltYet

LIFECYCLE = "plan versions and metering depth (contract §11)"


def not_built(what: str, part: str, *, field: str | None = None) -> NoReturn:
    raise NotBuiltYet(f"{what} is part of {part}, which this version does not provide yet", field=field)
