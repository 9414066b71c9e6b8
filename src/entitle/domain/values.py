"""Feature values: validation, the "most generous wins" merge, and natural flag values.

A value is the JSON a plan, grant or flag gives a feature:

- ``BOOLEAN``: ``true`` or ``false`` (``false`` grants nothing);
- ``LIMIT``: an integer from 0 to ``MAX_LIMIT`` or the string ``"unlimited"``;
- ``TIER``: one of the feature's ``tiers`` (ordered lowest first);
- ``LIST``: an array of strings (duplicates dropped, first-seen order kept).

Also the key formats of the catalog (features, plans, flags) and of subjects (tenants, users).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from entitle.domain.errors import BadUserInput
from entitle.domain.model import UNLIMITED, Feature, FeatureType, JsonValue, ResetPeriod
from entitle.domain.text import shown

CATALOG_KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
SUBJECT_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}")
PERMISSION_KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,127}")
MAX_LIMIT = 2**31 - 1
"""The largest numeric LIMIT value: limits are rendered as GraphQL ``Int`` (32-bit signed)."""


# --------------------------------------------------------------------------- keys


def validate_catalog_key(key: str, field: str) -> None:
    """Feature, plan and flag keys: ``^[a-z0-9][a-z0-9_.-]{0,63}$``."""
    if not isinstance(key, str) or CATALOG_KEY_PATTERN.fullmatch(key) is None:
        raise BadUserInput(
            f"{field}: {shown(key)} is not a valid key (lowercase letters, digits, '_', '.', '-'; "
            "starting with a letter or digit; at most 64 characters)",
            field=field,
        )


def validate_subject_key(key: str, field: str) -> None:
    """Tenant and user keys: ``^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$`` (ids, UUIDs, emails)."""
    if not isinstance(key, str) or SUBJECT_KEY_PATTERN.fullmatch(key) is None:
        raise BadUserInput(
            f"{field}: {shown(key)} is not a valid key (letters, digits, '_', '.', ':', '@', '-'; "
            "starting with a letter or digit; at most 128 characters)",
            field=field,
        )


def validate_permission_key(key: str, field: str) -> None:
    """Permission keys: ``^[a-z0-9][a-z0-9_.:-]{0,127}$``."""
    if not isinstance(key, str) or PERMISSION_KEY_PATTERN.fullmatch(key) is None:
        raise BadUserInput(
            f"{field}: {shown(key)} is not a valid permission key (lowercase letters, digits, '_', '.', "
            "':', '-'; starting with a letter or digit; at most 128 characters)",
            field=field,
        )


# --------------------------------------------------------------------------- validation


NAME_MAX_LENGTH = 200
UNIT_MAX_LENGTH = 64


def validate_text(value: object, field: str, max_length: int, *, required: bool = False) -> None:
    """A free-text field (a name, a unit): non-empty when ``required``, at most ``max_length`` characters."""
    if value is None:
        if required:
            raise BadUserInput(f"{field} must not be empty", field=field)
        return
    text = str(value)
    if required and not text.strip():
        raise BadUserInput(f"{field} must not be empty", field=field)
    if len(text) > max_length:
        raise BadUserInput(f"{field} is longer than {max_length} characters", field=field)


def validate_value(feature: Feature, value: JsonValue, *, field: str) -> JsonValue:
    """Check ``value`` against ``feature``'s type and return it normalized.

    Raises ``BadUserInput`` naming ``field`` when it does not fit.
    """
    return _check_value(feature.type, feature.tiers, value, field=field, feature_key=feature.key)


def _check_value(
    type_: FeatureType, tiers: Sequence[str], value: JsonValue, *, field: str, feature_key: str | None
) -> JsonValue:
    about = f" for feature {shown(feature_key)}" if feature_key else ""
    if type_ is FeatureType.BOOLEAN:
        if isinstance(value, bool):
            return value
        raise BadUserInput(f"{field}: expected true or false{about}, got {shown(value)}", field=field)
    if type_ is FeatureType.LIMIT:
        if value == UNLIMITED and isinstance(value, str):
            return UNLIMITED
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_LIMIT:
            return value
        raise BadUserInput(
            f'{field}: expected an integer from 0 to {MAX_LIMIT} or "unlimited"{about}, got {shown(value)}',
            field=field,
        )
    if type_ is FeatureType.TIER:
        if isinstance(value, str) and value in tiers:
            return value
        raise BadUserInput(f"{field}: expected one of {list(tiers)}{about}, got {shown(value)}", field=field)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(dict.fromkeys(value))
    raise BadUserInput(f"{field}: expected a list of strings{about}, got {shown(value)}", field=field)


def validate_feature_definition(
    type: FeatureType,
    tiers: Sequence[str],
    default_value: JsonValue,
    reset_period: ResetPeriod | None,
    permissions: Sequence[str],
) -> None:
    """Check that a feature's definition is coherent (GraphQL field names in errors)."""
    if type is FeatureType.TIER:
        if not tiers:
            raise BadUserInput("tiers: a TIER feature needs at least one tier", field="tiers")
        for tier in tiers:
            if not isinstance(tier, str) or not tier.strip():
                raise BadUserInput("tiers: tiers must be non-empty strings", field="tiers")
        if len(set(tiers)) != len(tiers):
            raise BadUserInput("tiers: tiers must be unique", field="tiers")
    elif tiers:
        raise BadUserInput(f"tiers: only TIER features have tiers, not {type.value}", field="tiers")
    if reset_period is not None and type is not FeatureType.LIMIT:
        raise BadUserInput(
            f"resetPeriod: only LIMIT features are metered, not {type.value}", field="resetPeriod"
        )
    if default_value is not None:
        _check_value(type, tiers, default_value, field="defaultValue", feature_key=None)
    for permission in permissions:
        validate_permission_key(permission, "permissions")


# --------------------------------------------------------------------------- merging


def merge_values(feature: Feature, values: Sequence[JsonValue]) -> JsonValue:
    """The most generous of ``values`` (given in visit order); None when there are none.

    BOOLEAN: any true. LIMIT: the largest, ``"unlimited"`` beats any number. TIER: the highest
    in ``feature.tiers``. LIST: the union in first-seen order. Values that do not fit the type
    (a catalog edited after the grant was written) lose to any that do.
    """
    if not values:
        return None
    type_ = feature.type
    if type_ is FeatureType.BOOLEAN:
        return any(value is True for value in values)
    if type_ is FeatureType.LIMIT:
        return _merge_limits(values)
    if type_ is FeatureType.TIER:
        return _merge_tiers(feature.tiers, values)
    merged: dict[str, None] = {}
    for value in values:
        if isinstance(value, list):
            merged.update(dict.fromkeys(item for item in value if isinstance(item, str)))
    return list(merged)


def _merge_limits(values: Sequence[JsonValue]) -> JsonValue:
    best: int | None = None
    for value in values:
        if value == UNLIMITED:
            return UNLIMITED
        if isinstance(value, int) and not isinstance(value, bool) and (best is None or value > best):
            best = value
    return best


def _merge_tiers(tiers: Sequence[str], values: Sequence[JsonValue]) -> JsonValue:
    best: JsonValue = None
    best_rank = -2
    for value in values:
        rank = tiers.index(value) if isinstance(value, str) and value in tiers else -1
        if rank > best_rank:
            best, best_rank = value, rank
    return best


def grants_something(feature: Feature, value: JsonValue) -> bool:
    """Whether ``value`` entitles the feature: only BOOLEAN ``false`` (or no value) grants nothing.

    LIMIT 0 is granted with no headroom; an empty LIST is granted.
    """
    if feature.type is FeatureType.BOOLEAN:
        return value is True
    return value is not None


def natural_flag_value(feature: Feature) -> JsonValue:
    """What a flag (or a grant without a value) gives: BOOLEAN true, else the default value,
    else LIMIT unlimited, TIER the highest tier, LIST an empty list."""
    if feature.type is FeatureType.BOOLEAN:
        return True
    if feature.default_value is not None:
        return feature.default_value
    if feature.type is FeatureType.LIMIT:
        return UNLIMITED
    if feature.type is FeatureType.TIER:
        return feature.tiers[-1] if feature.tiers else None
    return []
