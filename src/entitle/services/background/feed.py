"""The change feed's tail in this process: one reader that wakes on a notification or a poll.

Every process runs one ``ChangeFeed``. It reads the changes committed after its position, in revision
order, and hands each batch to its handlers (cache eviction) and to its live subscribers (GraphQL
subscriptions), then moves its position. ``wait_for(revision)`` lets a request that carries a
consistency token wait until this process has applied that revision. PostgreSQL's ``LISTEN`` wakes
the reader at once; the poll (``poll_s``) is the fallback and the only clock on SQLite.

While notifications arrive and this process has applied every revision it was told of (or asked to
wait for), the poll slows to ``idle_poll_s``: a commit notifies, so a faster poll would only find
nothing. While the tail is behind (a notified change not yet readable because an older transaction is
still open, or a ``wait_for``) it reads again every ``HELD_BACK_RETRY_S``; once the listening
connection is lost it polls every ``poll_s`` for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from entitle.clock import now
from entitle.db.health import DatabaseHealth, unavailable_reason
from entitle.domain.changes import START, Change, Revision
from entitle.domain.errors import BadUserInput
from entitle.metrics import record_feed_lag

log = logging.getLogger(__name__)

ChangeHandler = Callable[[Sequence[Change]], None]


class FeedSource(Protocol):
    """Where the feed is read from (``db.feed.DatabaseFeedSource``; a list in unit tests)."""

    async def latest(self) -> Revision: ...

    async def read_after(self, after: Revision, limit: int, *, payloads: bool = True) -> list[Change]: ...

    def listen(self, wake: Callable[[str | None], None]) -> AbstractAsyncContextManager[object]:
        """Calls ``wake(revision or None)`` on each commit; the value entered has ``active`` (bool) while
        notifications arrive (None or False: nothing listens, poll)."""
        ...


class ChangeFeed:
    BATCH = 1_000
    HELD_BACK_RETRY_S = 0.02
    """How soon to read again while a notified change is not readable yet: it committed behind an
    older transaction still running, whose end (if it appends nothing) no notification announces."""
    SUBSCRIBER_BUFFER = 1_000

    def __init__(
        self,
        source: FeedSource,
        poll_s: float,
        handlers: Sequence[ChangeHandler] = (),
        *,
        health: DatabaseHealth | None = None,
        max_stale_s: float = 0.0,
        on_stale: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        idle_poll_s: float = 1.0,
    ) -> None:
        self._source = source
        self._poll_s = poll_s
        self._idle_poll_s = max(idle_poll_s, poll_s)
        self._listening_state: object = None
        self._target: Revision = START
        """The newest revision this process was notified of or asked to wait for."""
        self._handlers = list(handlers)
        self._health = health or DatabaseHealth()
        self._max_stale = max_stale_s
        self._on_stale = on_stale
        self._clock = clock
        self._fresh_at = clock()
        """When this process last read the feed: what it caches is known fresh up to then."""
        self._positioned = False
        self._subscribers: set[asyncio.Queue[Change | None]] = set()
        self._wake = asyncio.Event()
        self._advanced = asyncio.Condition()
        self._reading: asyncio.Future[BaseException | None] | None = None
        """The read in progress, if any: resolves to None, or to the error that ended it."""
        self._reads_begun = 0
        self._read_done = 0
        """The number of the last read (counted in ``_reads_begun``) that completed."""
        self._task: asyncio.Task[None] | None = None
        self._listening: contextlib.AsyncExitStack | None = None
        self._failing = False
        self._own: set[Revision] = set()
        self.position: Revision = START
        """The newest revision this process has applied."""
        self.checks = 0
        """Completed reads of the feed, so tests can wait for "the next read" instead of guessing at time."""

    async def start(self) -> None:
        """Begin at the newest committed change (what came before is already in what a load reads).

        A database that is down now does not stop the process: the tail finds its position once the
        database answers (until then nothing is cached that could go stale)."""
        await self.read()
        stack = contextlib.AsyncExitStack()
        try:
            self._listening_state = await stack.enter_async_context(self._source.listen(self.wake))
        except Exception as error:  # polling still works; say so once
            log.warning(
                "change notifications unavailable (%s); polling every %s s",
                type(error).__name__,
                self._poll_s,
            )
        self._listening = stack
        self._task = asyncio.create_task(self._run(), name="entitle-change-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._listening is not None:
            await self._listening.aclose()
            self._listening = None
        for queue in self._subscribers:
            queue.put_nowait(None)

    def wake(self, revision: str | None = None) -> None:
        """Read the feed now; ``revision``: the one a committed write notified."""
        if revision is not None:
            with contextlib.suppress(BadUserInput):
                self._target = max(self._target, Revision.parse(revision))
        self._wake.set()

    def _next_read_s(self) -> float:
        """How long to wait for a notification before reading anyway."""
        if self.position < self._target and not self._failing:  # held back: retry soon
            return min(self._poll_s, self.HELD_BACK_RETRY_S)
        if getattr(self._listening_state, "active", False):  # a commit will notify: read when it does
            return self._idle_poll_s
        return self._poll_s

    async def catch_up(self) -> Revision:
        """Apply every change committed after ``position`` (at least every change committed before
        the call); returns the new position.

        One read at a time, shared: a caller returns once a read that began after its call has
        completed, waiting on that read's future with every other caller (not one after another
        through a lock, which under a write burst costs a turn of the event loop per caller and made
        ``reportUsage`` wait ~1 s for the feed). A read that fails raises in every caller waiting on it.
        """
        arrived = self._reads_begun
        while self._read_done <= arrived:
            reading = self._reading
            if reading is not None:  # wait for it: enough if it began after this call, else read again
                began = self._reads_begun
                error = await asyncio.shield(reading)
                if error is not None and began > arrived:
                    raise error
                continue
            self._reads_begun += 1
            began = self._reads_begun
            done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
            self._reading = done
            try:
                await self._read_all()
            except BaseException as exc:
                done.set_result(exc if isinstance(exc, Exception) else None)
                raise
            else:
                self._read_done = began
                done.set_result(None)
            finally:
                self._reading = None
        return self.position

    async def _read_all(self) -> None:
        """Read and apply batches until none is full (one at a time: see ``catch_up``)."""
        while True:
            # Eviction needs kinds and keys only; payloads (JSON to decode: a 10,000-item batch's
            # are most of its read-back) only while someone subscribes.
            with_payloads = bool(self._subscribers)
            batch = await self._source.read_after(self.position, self.BATCH, payloads=with_payloads)
            if batch and not with_payloads and self._subscribers:  # one subscribed meanwhile
                batch = await self._source.read_after(self.position, self.BATCH)
            if not batch:
                record_feed_lag(0.0)  # caught up
                self.checks += 1
                return
            self._apply(batch)
            record_feed_lag((now() - batch[-1].at).total_seconds())
            async with self._advanced:
                self._advanced.notify_all()
            if len(batch) < self.BATCH:
                self.checks += 1
                return

    async def wait_for(self, revision: Revision, timeout_s: float) -> bool:
        """True once this process has applied ``revision`` (reads from the database at once)."""
        if self.position >= revision:
            return True
        self._target = max(self._target, revision)
        await self.catch_up()
        if self.position >= revision:
            return True
        try:
            async with asyncio.timeout(timeout_s), self._advanced:
                await self._advanced.wait_for(lambda: self.position >= revision)
        except TimeoutError:
            return False
        return True

    async def history(self, after: Revision, until: Revision) -> AsyncIterator[Change]:
        """The committed changes after ``after`` up to ``until`` (a replay for a subscriber)."""
        position = after
        while position < until:
            batch = await self._source.read_after(position, self.BATCH)
            if not batch:
                return
            for change in batch:
                if change.revision > until:
                    return
                yield change
            position = batch[-1].revision

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change | None]]:
        """A queue of every change applied from now on (``None`` when the feed stops or the
        subscriber fell ``SUBSCRIBER_BUFFER`` changes behind: it must resubscribe)."""
        queue: asyncio.Queue[Change | None] = asyncio.Queue(self.SUBSCRIBER_BUFFER)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def applied_here(self, revisions: Iterable[Revision]) -> None:
        """This process wrote these changes and already acted on them: when the tail reads them back,
        the handlers skip them (subscribers still get them). Without this every write would evict
        its subjects twice, the second time possibly after they were loaded afresh."""
        self._own.update(revision for revision in revisions if revision > self.position)

    def _apply(self, batch: Sequence[Change]) -> None:
        foreign = [change for change in batch if change.revision not in self._own]
        self._own.difference_update(change.revision for change in batch)
        for handler in self._handlers:
            if foreign:
                handler(foreign)
        for queue in list(self._subscribers):
            for change in batch:
                if queue.full():
                    self._subscribers.discard(queue)
                    queue.get_nowait()
                    queue.put_nowait(None)
                    break
                queue.put_nowait(change)
        self.position = batch[-1].revision

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_read_s()):
                    await self._wake.wait()
            self._wake.clear()
            await self.read()

    async def read(self) -> bool:
        """One read of the feed (the process's heartbeat): a failure is reported to ``health``, never
        raised; past ``max_stale_s`` without a successful read the caches are dropped (``on_stale``)."""
        try:
            if not self._positioned:
                self.position = await self._source.latest()
                self._positioned = True
            await self.catch_up()
        except Exception as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                reason = f"change feed read failed ({type(exc).__name__})"
                if not self._failing:  # a bug, not an outage: one traceback, not one per poll
                    log.exception("change feed read failed")
            self._failing = True
            self._health.failed(reason)
            if self._on_stale is not None and self._clock() - self._fresh_at >= self._max_stale:
                self._on_stale()
            return False
        self._failing = False
        self._fresh_at = self._clock()
        self._health.succeeded()
        return True
