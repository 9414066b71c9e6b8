"""What every batch mutation shares: per-item errors as data, atomic vs best-effort, idempotent replay."""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass, field

from entitle.domain.errors import BadUserInput, EntitleError
from entitle.domain.model import JsonObject


@dataclass(frozen=True, slots=True)
class ItemError:
    index: int
    code: str
    message: str
    field: str | None = None

    @classmethod
    def of(cls, index: int, error: EntitleError) -> ItemError:
        return cls(index=index, code=error.code, message=error.message, field=error.field)

    @classmethod
    def from_json(cls, stored: JsonObject) -> ItemError:
        """The error ``as_dict`` stored."""
        index, code, message, field = (stored.get(name) for name in ("index", "code", "message", "field"))
        if not isinstance(index, int) or not isinstance(code, str) or not isinstance(message, str):
            raise ValueError(f"not a stored item error: {stored!r}")
        return cls(index, code, message, field if isinstance(field, str) else None)

    def as_dict(self) -> JsonObject:
        return {"index": self.index, "code": self.code, "message": self.message, "field": self.field}


@dataclass
class BatchOutcome:
    """Ids written (in input order) and the errors of the items that were not."""

    ids: list[int] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


def check_batch_size(items: Sized, limit: int, *, field: str = "input") -> None:
    if len(items) > limit:
        raise BadUserInput(
            f"at most {limit} items per batch (ENTITLE_MAX_BATCH); got {len(items)}", field=field
        )
