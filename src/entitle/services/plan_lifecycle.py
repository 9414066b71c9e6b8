"""Plan lifecycle use cases (contract §11): versions and grandfathering, plan changes, auto-assignment.

- ``publish_plan_version`` makes version n+1 current; entitlements created afterwards get it, existing
  ones keep theirs (they are decided by it). ``updatePlan(features)`` edits the current version in place.
- ``migrate_plan_entitlements`` moves the live (not revoked) entitlements of one version to another;
  revoked ones are history and keep the version they had.
- ``change_plan`` ends an entitlement at ``effective_at`` and starts one to another plan for the same
  subject at that instant, in one transaction; with ``carry_over_usage`` the new one keeps the old
  one's period anchor, so the usage counted in the current period keeps counting.
- ``assign_to_new_tenants`` grants the ``autoAssign`` plans to tenants as they are created.

Every write records its changes (§9) in its transaction, so caches are evicted and subscribers told.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from entitle.clock import now
from entitle.db.repositories import Session
from entitle.db.repositories import changes as change_log
from entitle.db.repositories import entitlements as entitlement_rows
from entitle.db.repositories import plans as plan_rows
from entitle.db.repositories.entitlements import EntitlementFields, GrantKeys, StoredEntitlement, grant_change
from entitle.db.repositories.plans import PlanRecord
from entitle.domain.changes import ChangeKind
from entitle.domain.errors import BadUserInput, Conflict, NotFound
from entitle.domain.model import AssignLevel
from entitle.domain.text import shown
from entitle.services.catalog import PlanFeature, features_shown, plan_change, plan_feature_values
from entitle.services.common import found
from entitle.services.runtime import Runtime

AUTO_ASSIGNED = "auto-assigned"
"""The ``reason`` of the entitlements that auto-assignment creates."""


# --------------------------------------------------------------------------- versions


async def publish_plan_version(runtime: Runtime, key: str, features: Sequence[PlanFeature]) -> PlanRecord:
    async with runtime.write() as session:
        current = found(await plan_rows.by_key(session, key), key, what="plan")
        values = await plan_feature_values(session, features)
        stamp = now()
        record = await plan_rows.publish(session, current.id, stamp)
        await plan_rows.add_version(session, record.id, record.version, values, stamp)
        change_log.record(
            session,
            plan_change(ChangeKind.PLAN_UPDATED, record, current, features=features_shown(features)),
        )
    return record


async def _check_version(session: Session, plan: PlanRecord, version: int, field: str) -> None:
    if not await plan_rows.version_exists(session, plan.id, version):
        raise BadUserInput(
            f"{field}: plan {shown(plan.key)} has no version {version} (versions 1 to {plan.version})",
            field=field,
        )


async def migrate_plan_entitlements(runtime: Runtime, key: str, from_version: int, to_version: int) -> int:
    """Move the plan's live entitlements on ``from_version`` to ``to_version``; returns how many moved."""
    async with runtime.write() as session:
        plan = found(await plan_rows.by_key(session, key), key, what="plan")
        await _check_version(session, plan, from_version, "fromVersion")
        await _check_version(session, plan, to_version, "toVersion")
        if from_version == to_version:
            raise BadUserInput("toVersion must differ from fromVersion", field="toVersion")
        stamp = now()
        on_version = await entitlement_rows.on_plan_version(session, plan.id, from_version)
        moved = await entitlement_rows.set_plan_version(
            session, [r.id for r, _ in on_version], to_version, stamp
        )
        change_log.record(
            session,
            *(
                grant_change(
                    ChangeKind.ENTITLEMENT_UPDATED,
                    dataclasses.replace(before, plan_version=to_version, updated_at=stamp),
                    keys,
                    before,
                )
                for before, keys in on_version
                if before.id in moved
            ),
        )
    return len(moved)


# --------------------------------------------------------------------------- plan changes


@dataclasses.dataclass(frozen=True)
class PlanChange:
    ended: StoredEntitlement
    started: StoredEntitlement


def _check_changeable(current: StoredEntitlement | None, at: datetime) -> StoredEntitlement:
    if current is None:
        raise NotFound("no entitlement with this id", field="entitlementId")
    if current.plan_id is None:
        raise BadUserInput(
            "entitlementId: a single-feature grant has no plan to change; give a plan entitlement",
            field="entitlementId",
        )
    if current.revoked_at is not None:
        raise BadUserInput("entitlementId: this entitlement is revoked", field="entitlementId")
    if at <= current.start_date:
        raise BadUserInput("effectiveAt must be after the entitlement's startDate", field="effectiveAt")
    if current.expiration_date is not None and at >= current.expiration_date:
        raise BadUserInput(
            "effectiveAt must be before the entitlement's expirationDate (it has ended by then)",
            field="effectiveAt",
        )
    return current


async def change_plan(
    runtime: Runtime,
    entitlement_id: int | None,
    to_plan_key: str,
    effective_at: datetime | None,
    *,
    carry_over_usage: bool,
) -> PlanChange:
    """End the entitlement at ``effective_at`` (default now) and start one to ``to_plan_key`` then.

    The new entitlement is for the same subject at the same level, on the target plan's current
    version, keeping ``reason`` and ``metadata``; it expires when the old one would have (the term
    continues), or — when the old one had no expiration — after the target plan's
    ``defaultTimeLimitationDays`` if set. ``carry_over_usage``: it keeps the old one's period anchor.
    """
    stamp = now()
    at = effective_at or stamp
    async with runtime.write() as session:
        current = None
        if entitlement_id is not None:
            current = await entitlement_rows.by_id(session, entitlement_id)
        current = _check_changeable(current, at)
        target = found(
            await plan_rows.by_key(session, to_plan_key), to_plan_key, what="plan", field="toPlanKey"
        )
        ended = await entitlement_rows.end_at(session, current.id, at, stamp)
        if ended is None:
            raise Conflict("the entitlement changed meanwhile; read it again", field="entitlementId")
        expiration = current.expiration_date
        if expiration is None and target.default_time_limitation_days:
            expiration = at + timedelta(days=target.default_time_limitation_days)
        (started,) = await entitlement_rows.insert_many(
            session,
            [
                EntitlementFields(
                    assign_level=AssignLevel(current.assign_level),
                    plan_id=target.id,
                    plan_version=target.version,
                    feature_id=None,
                    value=None,
                    period_anchor=(current.period_anchor or current.start_date) if carry_over_usage else None,
                    tenant_id=current.tenant_id,
                    user_id=current.user_id,
                    start_date=at,
                    expiration_date=expiration,
                    reason=current.reason,
                    metadata=current.metadata,
                    at=stamp,
                )
            ],
        )
        old_keys = (await entitlement_rows.keys_of(session, [current.id]))[current.id]
        new_keys = dataclasses.replace(old_keys, plan_key=target.key)
        change_log.record(
            session,
            grant_change(ChangeKind.ENTITLEMENT_UPDATED, ended, old_keys, current),
            grant_change(ChangeKind.ENTITLEMENT_GRANTED, started, new_keys),
        )
    return PlanChange(ended=ended, started=started)


# --------------------------------------------------------------------------- auto-assignment


async def assign_to_new_tenants(session: Session, created: Mapping[str, int], at: datetime) -> None:
    """Grant every ``autoAssign`` plan to the tenants just ``created`` (ids by key), from ``at`` on:
    one statement to find the plans and one multi-row insert per 1,000 entitlements."""
    if not created:
        return
    plans = await plan_rows.auto_assigned(session)
    if not plans:
        return
    grants: list[EntitlementFields] = []
    keys: list[GrantKeys] = []
    for tenant_key, tenant_id in created.items():
        for plan in plans:
            days = plan.default_time_limitation_days
            grants.append(
                EntitlementFields(
                    assign_level=AssignLevel.TENANT,
                    plan_id=plan.id,
                    plan_version=plan.version,
                    feature_id=None,
                    value=None,
                    tenant_id=tenant_id,
                    user_id=None,
                    start_date=at,
                    expiration_date=at + timedelta(days=days) if days else None,
                    reason=AUTO_ASSIGNED,
                    metadata={},
                    at=at,
                )
            )
            keys.append(GrantKeys(plan.key, None, tenant_key, None))
    inserted = await entitlement_rows.insert_many(session, grants)
    change_log.record(
        session,
        *(grant_change(ChangeKind.ENTITLEMENT_GRANTED, r, k) for r, k in zip(inserted, keys, strict=True)),
    )
