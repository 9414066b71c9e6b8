"""What counts as a database outage, for the layers above db/ (the rules live in ``db.health``)."""

from __future__ import annotations

from entitle.db.health import DatabaseHealth, unavailable_reason

__all__ = ["DatabaseHealth", "unavailable_reason"]
