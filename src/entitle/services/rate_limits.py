"""Rate limits (contract §12, ``ENTITLE_RATE_LIMIT``): a token bucket per caller, in this process.

Each API key (by name) and each user token (by tenant and user key) has a bucket of ``burst`` tokens
refilled at ``rate`` per second; a request takes one, or is refused with the seconds until one is
there (``Retry-After``). Per process: behind ``entitle serve --workers N`` (or N replicas) a caller
whose requests are spread over the processes gets up to N times the rate. The buckets are bounded
(least recently used out; a forgotten bucket comes back full, which only ever errs on the side of
allowing). No I/O, one dict lookup and a little arithmetic per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from cachetools import LRUCache

from entitle.auth import Principal
from entitle.domain.errors import RateLimited

MAX_CALLERS = 100_000


class RateLimiter:
    def __init__(
        self, rate: float, burst: int | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst if burst is not None else max(1, math.ceil(rate)))
        self._clock = clock
        self._buckets: LRUCache[tuple[str | None, ...], list[float]] = LRUCache(maxsize=MAX_CALLERS)

    def take(self, principal: Principal) -> None:
        """Take one token for ``principal``'s request; ``RateLimited`` when there is none."""
        key = (principal.kind, principal.name, principal.tenant_key, principal.user_key)
        at = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [self._burst - 1, at]
            return
        tokens = min(self._burst, bucket[0] + (at - bucket[1]) * self._rate)
        bucket[1] = at
        if tokens >= 1:
            bucket[0] = tokens - 1
            return
        bucket[0] = tokens
        retry_after_s = max(1, math.ceil((1 - tokens) / self._rate))
        raise RateLimited(
            f"too many requests: the limit is {self._rate:g} per second per API key or user "
            f"(ENTITLE_RATE_LIMIT); retry in {retry_after_s} s",
            retry_after_s,
        )
