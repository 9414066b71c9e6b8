"""``usage`` (contract §11): a subject's usage per period, the current one and those before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from entitle.db.repositories import usage as counters
from entitle.domain.decision import AccessRequest, evaluate, validate_request
from entitle.domain.errors import BadUserInput, NotFound
from entitle.domain.metering import check_history_size, earlier_periods, usage_subject
from entitle.domain.model import Justification
from entitle.domain.periods import current_period
from entitle.services.usage import Metering

_NO_SUBJECT = frozenset({Justification.UNKNOWN_SUBJECT, Justification.NOT_A_MEMBER})


@dataclass(frozen=True, slots=True)
class UsagePeriodView:
    start: datetime
    end: datetime
    used: int
    limit: int | None
    overage: int


@dataclass(frozen=True, slots=True)
class UsageHistoryRequest:
    tenant_key: str | None
    user_key: str | None
    feature_key: str
    periods: int = 1
    at: datetime | None = None
    """The instant whose period comes first; None: now, by the service's clock."""


class UsageHistoryService:
    """``usage``: a subject's usage per period, at the metering's clock."""

    __slots__ = ("_metering",)

    def __init__(self, metering: Metering) -> None:
        self._metering = metering

    async def periods(self, request: UsageHistoryRequest) -> list[UsagePeriodView]:
        """Newest first. Periods follow today's grant (its anchor and limit); with no active grant, the
        UTC calendar and a limit of 0. An unknown subject or a non-member has no periods."""
        access = AccessRequest(feature_key=request.feature_key)
        validate_request(request.tenant_key, request.user_key, access)
        check_history_size(request.periods)
        metering = self._metering
        at = metering.clock() if request.at is None else request.at
        snapshot = await metering.catalog.get()
        feature = snapshot.catalog.features_by_key.get(request.feature_key)
        if feature is None:
            raise NotFound(f"no feature with key {request.feature_key!r}", field="featureKey")
        if not feature.metered or feature.reset_period is None:
            raise BadUserInput(
                f"feature '{feature.key}' is not metered (a LIMIT feature with a resetPeriod)",
                field="featureKey",
            )
        subject = await metering.subject(request.tenant_key, request.user_key)
        evaluation = evaluate(snapshot.catalog, subject, access, at)
        who = usage_subject(subject)
        if who is None or evaluation.justification in _NO_SUBJECT:
            return []
        grant = evaluation.grant
        if grant is not None and grant.period is not None and evaluation.justification is None:
            anchor, current, limit = grant.anchor, grant.period, grant.limit
        else:
            anchor, current, limit = None, current_period(feature.reset_period, None, at), 0
        wanted = earlier_periods(feature.reset_period, anchor, current, request.periods)
        async with metering.database.lookup() as connection:
            used = await counters.used_in_periods(connection, who, [p.start for p in wanted], feature.id)
        return [
            UsagePeriodView(
                start=p.start,
                end=p.end,
                used=used.get(p.start, 0),
                limit=limit,
                overage=0 if limit is None else max(0, used.get(p.start, 0) - limit),
            )
            for p in wanted
        ]
