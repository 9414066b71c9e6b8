"""``minRevision``: read your own writes across workers and replicas (contract §9)."""

from __future__ import annotations

from entitle.domain.changes import Revision
from entitle.domain.errors import Unavailable
from entitle.graphql.core.context import Info

MIN_REVISION_WAIT_S = 5.0


async def reach(info: Info, min_revision: str | None) -> None:
    """Wait until this process has applied ``min_revision`` (a mutation's ``extensions.revision``), so
    the answer reflects that write whichever worker or replica made it (contract §9)."""
    if min_revision is None:
        return
    revision = Revision.parse(min_revision)
    if not await info.context.runtime.feed.wait_for(revision, MIN_REVISION_WAIT_S):
        raise Unavailable(
            f"this server has not reached revision {min_revision} yet; retry", field="minRevision"
        )
