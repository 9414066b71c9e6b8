"""Text rules shared by every layer: which characters no input may hold, and how input is quoted.

Error messages quote what the caller sent through :func:`shown`, cut to :data:`SHOWN_CHARS`
characters, so an error never echoes a megabyte of input back (nor into a log).
"""

from __future__ import annotations

import re

_REFUSED = re.compile("[\x00\ud800-\udfff]")
SHOWN_CHARS = 64


def refused_character(text: str) -> str | None:
    """Why ``text`` cannot be accepted (a NUL or a lone surrogate), or None when it can."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000), which is not allowed"
    return "contains a lone surrogate (U+D800 to U+DFFF), which is not valid Unicode"


def shown(value: object) -> str:
    """``value`` quoted for an error message (like ``repr``), its first 64 characters then '…'."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > SHOWN_CHARS:
        text = text[:SHOWN_CHARS] + "…"
    return repr(text) if isinstance(value, str) else text
