"""API route patterns: validation and matching.

A pattern is ``/``-separated segments: a literal (matched exactly, case-sensitive), ``{name}`` or
``*`` (exactly one non-empty segment), or a final ``**`` (the rest of the path: zero or more
segments). A route's method matches case-insensitively; ``*`` matches any method.

Among the routes that match, the highest ``priority`` wins; on a tie the pattern with more literal
segments, then ``DENY`` over the other policies, then the lower id. The requested path loses its
query string and trailing slash first (``/`` stays ``/``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from entitle.domain.errors import BadUserInput
from entitle.domain.model import ApiRoute, RoutePolicy
from entitle.domain.text import shown

_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}")
_PARAM = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]{0,63}\}")
_LITERAL = re.compile(r"[^{}*?#\s]+")
_MAX_PATTERN_LENGTH = 1000

_ANY = None
"""A compiled segment that matches any one non-empty segment (``{param}`` or ``*``)."""


def validate_route(method: str, path_pattern: str) -> None:
    """Raise ``BadUserInput`` (field ``method`` or ``pathPattern``) unless the route is well-formed."""
    if not isinstance(method, str) or _METHOD.fullmatch(method) is None:
        raise BadUserInput(
            f"method: {shown(method)} is not an HTTP method (e.g. GET, POST) or '*'", field="method"
        )
    _parse_pattern(path_pattern)


def _parse_pattern(pattern: str) -> tuple[tuple[str | None, ...], bool]:
    """The pattern's segments (None for a one-segment wildcard) and whether it ends with ``**``."""

    def fail(reason: str) -> BadUserInput:
        return BadUserInput(f"pathPattern: {shown(pattern)} {reason}", field="pathPattern")

    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise fail("must start with '/'")
    if len(pattern) > _MAX_PATTERN_LENGTH:
        raise fail(f"is longer than {_MAX_PATTERN_LENGTH} characters")
    body = pattern[1:].removesuffix("/")
    parts = body.split("/") if body else []
    segments: list[str | None] = []
    params: set[str] = set()
    tail = False
    for index, part in enumerate(parts):
        if part == "**":
            if index != len(parts) - 1:
                raise fail("may use '**' only as its last segment")
            tail = True
        elif part == "*":
            segments.append(_ANY)
        elif part.startswith("{"):
            if _PARAM.fullmatch(part) is None:
                raise fail(f"has a malformed parameter {shown(part)} (expected '{{name}}')")
            if part in params:
                raise fail(f"repeats the parameter {shown(part)}")
            params.add(part)
            segments.append(_ANY)
        elif part == "":
            raise fail("has an empty segment ('//')")
        elif _LITERAL.fullmatch(part) is None:
            raise fail(f"has an invalid segment {shown(part)} (no '{{', '}}', '*', '?', '#' or spaces)")
        else:
            segments.append(part)
    return tuple(segments), tail


def _split(path: str) -> list[str]:
    """Segments of a path with its leading and (one or more) trailing slashes removed."""
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def normalize_request_path(path: str) -> list[str]:
    """The requested path's segments, without its query string and trailing slash."""
    query = path.find("?")
    if query >= 0:
        path = path[:query]
    return _split(path)


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    route: ApiRoute
    method: str | None  # upper-case; None matches any method
    segments: tuple[str | None, ...]
    tail: bool

    def matches(self, method: str, parts: Sequence[str]) -> bool:
        if self.method is not None and self.method != method:
            return False
        count = len(self.segments)
        if len(parts) != count and not (self.tail and len(parts) >= count):
            return False
        for expected, part in zip(self.segments, parts, strict=False):
            if expected is None:
                if not part:
                    return False
            elif expected != part:
                return False
        return True


class CompiledRoutes:
    """Routes parsed once and ordered by precedence, so a match is a scan with no parsing.

    Routes whose stored pattern does not parse are left out (they can never match).
    """

    __slots__ = ("_compiled",)

    def __init__(self, routes: Sequence[ApiRoute]) -> None:
        compiled: list[_CompiledRoute] = []
        for route in routes:
            try:
                segments, tail = _parse_pattern(route.path_pattern)
            except BadUserInput:
                continue
            method = None if route.method == "*" else route.method.upper()
            compiled.append(_CompiledRoute(route, method, segments, tail))
        compiled.sort(key=_precedence)
        self._compiled: tuple[_CompiledRoute, ...] = tuple(compiled)

    def __len__(self) -> int:
        return len(self._compiled)

    def match(self, method: str, path: str) -> ApiRoute | None:
        """The winning route for ``method`` and ``path``, or None when no route matches."""
        wanted = method.upper()
        parts = normalize_request_path(path)
        for candidate in self._compiled:
            if candidate.matches(wanted, parts):
                return candidate.route
        return None


def _precedence(compiled: _CompiledRoute) -> tuple[int, int, int, int]:
    literals = sum(1 for segment in compiled.segments if segment is not None)
    route = compiled.route
    return (-route.priority, -literals, 0 if route.policy is RoutePolicy.DENY else 1, route.id)


def match_route(routes: Sequence[ApiRoute], method: str, path: str) -> ApiRoute | None:
    """The winning route among ``routes`` (compiles them; use ``CompiledRoutes`` when reused)."""
    return CompiledRoutes(routes).match(method, path)
