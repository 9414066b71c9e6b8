"""What a subject's sources grant at an instant: one feature's merged grant, with its sources.

Sources are the subject's entitlements, visited by ``(start_date, created_at, id)``, then the
feature flags that are on and apply to the subject, by id. A plan entitlement grants each of the
plan's features with its value; a single-feature entitlement grants its feature with its value (or
the feature's natural value when it has none); a flag grants its features' natural values. Values
that grant nothing (BOOLEAN false) and plans or features missing from the catalog are skipped.
Only ACTIVE entitlements grant; expired, revoked and scheduled ones are remembered so that a
refusal can say ``PLAN_EXPIRED`` or ``NOT_STARTED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final, Literal, TypeAlias

from entitle.domain.catalog import Catalog
from entitle.domain.flags import flag_applies
from entitle.domain.model import (
    UNLIMITED,
    AssignLevel,
    EntitlementRecord,
    EntitlementStatus,
    Feature,
    FeatureFlag,
    FeatureType,
    JsonValue,
    SourceKind,
    Subject,
)
from entitle.domain.periods import Period, current_period
from entitle.domain.status import effective_end, entitlement_status
from entitle.domain.values import grants_something, merge_values


class _Nothing(Enum):
    """What a source gives a feature it does not grant (``None`` is a JSON value: null)."""

    NOTHING = "NOTHING"


_NOTHING: Final = _Nothing.NOTHING
_Given: TypeAlias = JsonValue | Literal[_Nothing.NOTHING]


@dataclass(frozen=True, slots=True)
class DecisionSource:
    """One source of a decision: the entitlement (by id), plan or flag granting it, and when it stops
    (``expires_at``; None: never; flags never expire)."""

    kind: SourceKind
    entitlement_id: int | None = None
    plan_id: int | None = None
    flag_id: int | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeatureGrant:
    """One feature's merged grant for a subject at an instant.

    ``sources`` holds every active source granting the feature, in visit order, including those
    whose value lost the merge. ``expires_at`` is the latest expiry among them, None if any never
    expires. ``anchor`` is the earliest period anchor among the TENANT- or INDIVIDUAL-level sources
    (an entitlement's anchor is its start, unless a plan change carried an earlier one over; None
    when only flags or members' own grants have it: calendar periods); ``period`` is the
    current usage period of a metered feature.
    """

    feature: Feature
    value: JsonValue
    sources: tuple[DecisionSource, ...]
    expires_at: datetime | None
    anchor: datetime | None
    period: Period | None

    @property
    def limit(self) -> int | None:
        """The numeric limit of a LIMIT feature; None when unlimited or not a LIMIT feature."""
        value = self.value
        if self.feature.type is FeatureType.LIMIT and isinstance(value, int) and not isinstance(value, bool):
            return value
        return None

    @property
    def unlimited(self) -> bool:
        return self.feature.type is FeatureType.LIMIT and self.value == UNLIMITED


@dataclass(frozen=True, slots=True)
class Lookup:
    """A feature's grant (None when no active source grants it) and what inactive sources had it."""

    grant: FeatureGrant | None
    had_expired: bool
    had_future: bool


def latest_expiry(sources: tuple[DecisionSource, ...]) -> datetime | None:
    """The latest ``expires_at``; None when any source never expires (or there are none)."""
    latest: datetime | None = None
    for source in sources:
        if source.expires_at is None:
            return None
        if latest is None or source.expires_at > latest:
            latest = source.expires_at
    return latest


class SourceVisit:
    """One subject's sources at one instant, sorted once; sources are shared between features."""

    __slots__ = ("_entries", "_flag_sources", "_rank", "at", "catalog", "subject")

    def __init__(self, catalog: Catalog, subject: Subject, at: datetime) -> None:
        self.catalog = catalog
        self.subject = subject
        self.at = at
        ordered = sorted(subject.entitlements, key=lambda e: (e.start_date, e.created_at, e.id))
        self._entries: list[tuple[EntitlementRecord, EntitlementStatus, DecisionSource | None]] = []
        self._rank: dict[int, int] = {}
        for index, entitlement in enumerate(ordered):
            status = entitlement_status(entitlement, at)
            source = None
            if status is EntitlementStatus.ACTIVE:
                source = _entitlement_source(entitlement)
                self._rank[id(source)] = index
            self._entries.append((entitlement, status, source))
        self._flag_sources: dict[int, DecisionSource | None] = {}

    def flag_source(self, flag: FeatureFlag) -> DecisionSource | None:
        """The flag's source when it is on and applies to the subject, else None (cached)."""
        try:
            return self._flag_sources[flag.id]
        except KeyError:
            source = None
            if flag_applies(flag, self.subject):
                source = DecisionSource(SourceKind.FEATURE_FLAG, flag_id=flag.id)
                self._rank[id(source)] = len(self._entries) + flag.id
            self._flag_sources[flag.id] = source
            return source

    def in_visit_order(self, sources: list[DecisionSource]) -> tuple[DecisionSource, ...]:
        """``sources`` without duplicates (by identity), in visit order."""
        unique = {id(source): source for source in sources}
        return tuple(sorted(unique.values(), key=lambda source: self._rank[id(source)]))

    def lookup(self, feature: Feature) -> Lookup:
        """The feature's merged grant from every active source, and the inactive sources' trace."""
        values: list[JsonValue] = []
        sources: list[DecisionSource] = []
        counted_anchor: datetime | None = None  # from a grant of the subject usage is counted for
        had_expired = had_future = False
        for entitlement, status, source in self._entries:
            value = self._value(entitlement, feature)
            if value is _NOTHING:
                continue
            if source is not None:
                values.append(value)
                sources.append(source)
                if entitlement.assign_level is not AssignLevel.USER and (
                    counted_anchor is None or entitlement.anchor < counted_anchor
                ):
                    counted_anchor = entitlement.anchor
            elif status is EntitlementStatus.SCHEDULED:
                had_future = True
            else:
                had_expired = True
        natural = self.catalog.natural_values.get(feature.id)
        if grants_something(feature, natural):
            for flag in self.catalog.flags_by_feature_id.get(feature.id, ()):
                flag_source = self.flag_source(flag)
                if flag_source is not None:
                    values.append(natural)
                    sources.append(flag_source)
        if not sources:
            return Lookup(None, had_expired, had_future)
        # Usage is counted per tenant in organization context: anchor its periods on the tenant's own
        # grants, so every member asking finds the same counter. When only members' own grants have
        # the feature, periods follow the UTC calendar (like a flag-only grant) for the same reason.
        anchor = counted_anchor
        return Lookup(self._grant(feature, values, tuple(sources), anchor), had_expired, had_future)

    def granted_feature_ids(self) -> set[int]:
        """Ids of the features some active source may grant (a superset; ``lookup`` decides)."""
        catalog = self.catalog
        ids: set[int] = set()
        for entitlement, _status, source in self._entries:
            if source is None:
                continue
            if entitlement.plan_id is not None:
                ids.update(catalog.values_of_plan(entitlement.plan_id, entitlement.plan_version) or {})
            elif entitlement.feature_id is not None and entitlement.feature_id in catalog.features_by_id:
                ids.add(entitlement.feature_id)
        for feature_id, flags in catalog.flags_by_feature_id.items():
            if feature_id not in ids and any(self.flag_source(flag) is not None for flag in flags):
                ids.add(feature_id)
        return ids

    def _value(self, entitlement: EntitlementRecord, feature: Feature) -> _Given:
        if entitlement.plan_id is not None:
            plan_values = self.catalog.values_of_plan(entitlement.plan_id, entitlement.plan_version)
            if plan_values is None:
                return _NOTHING
            return plan_values.get(feature.id, _NOTHING)
        if entitlement.feature_id != feature.id:
            return _NOTHING
        value = entitlement.value
        if value is None:
            value = self.catalog.natural_values.get(feature.id)
        return value if grants_something(feature, value) else _NOTHING

    def _grant(
        self,
        feature: Feature,
        values: list[JsonValue],
        sources: tuple[DecisionSource, ...],
        anchor: datetime | None,
    ) -> FeatureGrant:
        period = None
        if feature.reset_period is not None and feature.type is FeatureType.LIMIT:
            period = current_period(feature.reset_period, anchor, self.at)
        return FeatureGrant(
            feature=feature,
            value=merge_values(feature, values),
            sources=sources,
            expires_at=latest_expiry(sources),
            anchor=anchor,
            period=period,
        )


def _entitlement_source(entitlement: EntitlementRecord) -> DecisionSource:
    if entitlement.plan_id is not None:
        return DecisionSource(
            SourceKind.PLAN, entitlement.id, entitlement.plan_id, None, effective_end(entitlement)
        )
    return DecisionSource(SourceKind.GRANT, entitlement.id, None, None, effective_end(entitlement))
