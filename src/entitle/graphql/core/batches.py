"""``BatchItemError``: a batch item that was not written, as data."""

from __future__ import annotations

import strawberry

from entitle.services.batches import ItemError


@strawberry.type
class BatchItemError:
    index: int
    code: str
    message: str
    field: str | None

    @classmethod
    def of(cls, error: ItemError) -> BatchItemError:
        return cls(index=error.index, code=error.code, message=error.message, field=error.field)
