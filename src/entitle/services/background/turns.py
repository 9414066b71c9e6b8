"""How a background worker's turn reports a failure: an outage through ``health`` (logged when its state
changes), a bug once with its traceback, then quiet until a turn succeeds again."""

from __future__ import annotations

import logging

from entitle.services.outages import DatabaseHealth, unavailable_reason


class TurnFailures:
    def __init__(self, health: DatabaseHealth, log: logging.Logger, message: str) -> None:
        self._health = health
        self._log = log
        self._message = message
        self.failing = False

    def failed(self, error: Exception) -> None:
        outage = unavailable_reason(error)
        if outage is not None:  # the process logs an outage once, through `health`
            self._health.failed(outage)
        elif not self.failing:  # a bug, not an outage: one traceback, then quiet until it works
            self._log.error(self._message, exc_info=error)
            self.failing = True

    def succeeded(self) -> None:
        self.failing = False
