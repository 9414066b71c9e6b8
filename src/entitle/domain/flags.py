"""Feature-flag targeting: does a flag apply to a subject?

A flag that is off applies to nobody. A flag with no targeting (no tenant keys, no user keys,
no rules and ``percentage`` null) applies to everybody. Otherwise it applies when the tenant key
or user key is listed, or any rule matches, or the subject's stable bucket is below ``percentage``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import Enum
from typing import Final, Literal, TypeAlias

from entitle.domain.model import FeatureFlag, FlagAttribute, FlagOperator, FlagRule, JsonValue, Subject


class _Missing(Enum):
    """A rule's attribute the subject does not have (JSON null at a metadata path counts as missing)."""

    MISSING = "MISSING"


_MISSING: Final = _Missing.MISSING
_Attribute: TypeAlias = JsonValue | Literal[_Missing.MISSING]


def bucket(flag_key: str, subject_key: str) -> int:
    """A subject's bucket for a flag, 0..99: sha256 of ``"{flag_key}:{subject_key}"``, first 15 hex
    digits as an integer, modulo 100. Stable across processes, machines and Python versions."""
    digest = hashlib.sha256(f"{flag_key}:{subject_key}".encode()).hexdigest()
    return int(digest[:15], 16) % 100


def has_targeting(flag: FeatureFlag) -> bool:
    return bool(flag.tenant_keys or flag.user_keys or flag.rules) or flag.percentage is not None


def flag_applies(flag: FeatureFlag, subject: Subject) -> bool:
    """Whether ``flag`` entitles ``subject`` (see the module docstring)."""
    if not flag.on:
        return False
    if not has_targeting(flag):
        return True
    if subject.tenant_key is not None and subject.tenant_key in flag.tenant_keys:
        return True
    if subject.user_key is not None and subject.user_key in flag.user_keys:
        return True
    if any(rule_matches(rule, subject) for rule in flag.rules):
        return True
    if flag.percentage is not None:
        bucket_key = subject.tenant_key or subject.user_key
        return bucket_key is not None and bucket(flag.key, bucket_key) < flag.percentage
    return False


def rule_matches(rule: FlagRule, subject: Subject) -> bool:
    """A rule over a missing attribute is false before ``negate`` inverts it."""
    attribute = _attribute(rule, subject)
    matched = attribute is not _MISSING and _compare(rule.operator, attribute, rule.values)
    return matched != rule.negate


def _attribute(rule: FlagRule, subject: Subject) -> _Attribute:
    kind = rule.attribute
    if kind is FlagAttribute.TENANT_KEY:
        return _MISSING if subject.tenant_key is None else subject.tenant_key
    if kind is FlagAttribute.USER_KEY:
        return _MISSING if subject.user_key is None else subject.user_key
    ref = subject.tenant if kind is FlagAttribute.TENANT_METADATA else subject.user
    if ref is None or not rule.path:
        return _MISSING
    return _lookup(ref.metadata, rule.path)


def _lookup(metadata: Mapping[str, JsonValue], path: str) -> _Attribute:
    """``metadata`` at a dotted ``path``; JSON null counts as missing."""
    *parents, name = path.split(".")
    current = metadata
    for part in parents:
        child = current.get(part)
        if not isinstance(child, Mapping):
            return _MISSING
        current = child
    value = current.get(name)
    return _MISSING if value is None else value


def _text(value: JsonValue) -> str:
    """A JSON value as text: booleans as ``true``/``false``, objects as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _compare(operator: FlagOperator, attribute: JsonValue, values: tuple[str, ...]) -> bool:
    if isinstance(attribute, list):
        if operator is FlagOperator.CONTAINS:
            return any(_text(item) in values for item in attribute)
        return any(_compare_scalar(operator, _text(item), values) for item in attribute)
    return _compare_scalar(operator, _text(attribute), values)


def _compare_scalar(operator: FlagOperator, text: str, values: tuple[str, ...]) -> bool:
    if operator is FlagOperator.IN_LIST or operator is FlagOperator.EQUALS:
        return text in values
    if operator is FlagOperator.CONTAINS:
        return any(value in text for value in values)
    if operator is FlagOperator.STARTS_WITH:
        return text.startswith(values)
    if operator is FlagOperator.ENDS_WITH:
        return text.endswith(values)
    if not values:
        return False
    greater = operator is FlagOperator.GREATER_THAN
    left, right = _number(text), _number(values[0])
    if left is not None and right is not None:
        return left > right if greater else left < right
    return text > values[0] if greater else text < values[0]


def _number(text: str) -> float | None:
    """``text`` as a number when it parses as one (GREATER_THAN / LESS_THAN compare numerically)."""
    try:
        return float(text)
    except ValueError:
        return None
