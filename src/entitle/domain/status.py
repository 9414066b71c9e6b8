"""The status of an entitlement at an instant.

An entitlement is active on the half-open interval ``[start_date, expiration_date)``; a revocation
ends it from ``revoked_at`` on. A revocation dated after ``at`` does not affect ``at``.
"""

from __future__ import annotations

from datetime import datetime

from entitle.domain.model import EntitlementRecord, EntitlementStatus


def entitlement_status(entitlement: EntitlementRecord, at: datetime) -> EntitlementStatus:
    """REVOKED, then SCHEDULED (before the start), then EXPIRED (at or after the end), else ACTIVE."""
    if entitlement.revoked_at is not None and entitlement.revoked_at <= at:
        return EntitlementStatus.REVOKED
    if at < entitlement.start_date:
        return EntitlementStatus.SCHEDULED
    if entitlement.expiration_date is not None and at >= entitlement.expiration_date:
        return EntitlementStatus.EXPIRED
    return EntitlementStatus.ACTIVE


def effective_end(entitlement: EntitlementRecord) -> datetime | None:
    """When the entitlement stops being active: the earlier of its expiration and its revocation."""
    ends = [end for end in (entitlement.expiration_date, entitlement.revoked_at) if end is not None]
    return min(ends) if ends else None
