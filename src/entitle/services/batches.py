"""What every batch mutation shares: per-item errors as data, atomic vs best-effort, idempotent replay."""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass, field

from entitle.domain.errors import BadUserInput, EntitleError


@dataclass(frozen=True, slots=True)
class ItemError:
    index: int
    code: str
    message: str
    field: str | None = None

    @classmethod
    def of(cls, index: int, error: EntitleError) -> ItemError:
        return cls(index=index, code=error.code, message=error.message, field=error.field)

    def as_dict(self) -> dict[str, int | str | None]:
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
