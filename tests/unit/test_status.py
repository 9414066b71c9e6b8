"""Entitlement status: half-open ``[start, expiration)`` and revocation from ``revoked_at`` on."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from entitle.domain.model import EntitlementStatus
from entitle.domain.status import effective_end, entitlement_status
from tests.unit.builders import FEB_1, JAN_1, MAR_1, feature, grant

SSO = feature("sso", id=1)
ACTIVE, SCHEDULED = EntitlementStatus.ACTIVE, EntitlementStatus.SCHEDULED
EXPIRED, REVOKED = EntitlementStatus.EXPIRED, EntitlementStatus.REVOKED


@pytest.mark.parametrize(
    ("at", "expiration", "revoked_at", "status"),
    [
        pytest.param(JAN_1, None, None, ACTIVE, id="active_exactly_at_the_start"),
        pytest.param(
            datetime.max.replace(tzinfo=JAN_1.tzinfo), None, None, ACTIVE, id="no_expiration_never_ends"
        ),
        pytest.param(JAN_1.replace(year=2024), None, None, SCHEDULED, id="scheduled_before_the_start"),
        pytest.param(
            FEB_1 - timedelta(microseconds=1), FEB_1, None, ACTIVE, id="active_just_before_the_expiration"
        ),
        pytest.param(FEB_1, FEB_1, None, EXPIRED, id="expired_exactly_at_the_expiration"),
        pytest.param(MAR_1, FEB_1, None, EXPIRED, id="expired_after_the_expiration"),
        pytest.param(FEB_1, None, FEB_1, REVOKED, id="revoked_exactly_at_the_revocation"),
        pytest.param(JAN_1, None, FEB_1, ACTIVE, id="active_before_a_later_revocation"),
        pytest.param(MAR_1, FEB_1, FEB_1, REVOKED, id="revoked_wins_over_expired"),
        pytest.param(
            JAN_1.replace(year=2024),
            None,
            JAN_1.replace(year=2024),
            REVOKED,
            id="revoked_wins_over_scheduled",
        ),
    ],
)
def test_entitlement_status_at_an_instant(
    at: datetime, expiration: datetime | None, revoked_at: datetime | None, status: EntitlementStatus
) -> None:
    entitlement = grant(SSO, True, start_date=JAN_1, expiration_date=expiration, revoked_at=revoked_at)
    assert entitlement_status(entitlement, at) is status


@pytest.mark.parametrize(
    ("expiration", "revoked_at", "end"),
    [
        pytest.param(None, None, None, id="never_ends"),
        pytest.param(MAR_1, None, MAR_1, id="ends_at_its_expiration"),
        pytest.param(MAR_1, FEB_1, FEB_1, id="an_earlier_revocation_ends_it_sooner"),
        pytest.param(FEB_1, MAR_1, FEB_1, id="a_later_revocation_changes_nothing"),
        pytest.param(None, FEB_1, FEB_1, id="a_revocation_ends_an_open_entitlement"),
    ],
)
def test_effective_end_is_the_earlier_of_expiration_and_revocation(
    expiration: datetime | None, revoked_at: datetime | None, end: datetime | None
) -> None:
    assert effective_end(grant(SSO, True, expiration_date=expiration, revoked_at=revoked_at)) == end
