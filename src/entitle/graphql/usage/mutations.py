from __future__ import annotations

from datetime import datetime

import strawberry

from entitle.clock import now
from entitle.domain.decision import AccessRequest
from entitle.graphql.context import Info
from entitle.graphql.decisions.queries import own_subject, subject_loader
from entitle.graphql.decisions.types import EntitlementDecision
from entitle.services.usage import UsageReport, report_usage


@strawberry.input
class ReportUsageInput:
    feature_key: str
    amount: int
    idempotency_key: str
    tenant_key: str | None = None
    user_key: str | None = None
    at: datetime | None = None


@strawberry.type
class UsageMutation:
    @strawberry.mutation(
        description="Atomically check and consume metered units; "
        "a repeated idempotencyKey returns the first answer."
    )
    async def report_usage(self, info: Info, input: ReportUsageInput) -> EntitlementDecision:
        info.context.require_writer()
        tenant_key, user_key = own_subject(info.context, input.tenant_key, input.user_key)
        report = UsageReport(
            tenant_key=tenant_key,
            user_key=user_key,
            feature_key=input.feature_key,
            amount=input.amount,
            idempotency_key=input.idempotency_key,
            at=input.at or now(),
        )
        decision = await report_usage(info.context.runtime, subject_loader(info), report)
        return EntitlementDecision.from_domain(
            decision, AccessRequest(feature_key=input.feature_key, usage=input.amount)
        )
