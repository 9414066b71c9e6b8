"""The live cache: effective entitlements of the subjects asked, kept fresh by ``entitlementsChanged``.

A background thread runs its own asyncio loop holding one WebSocket (``graphql-transport-ws``) with one
subscription per cached subject. Each event carries the subject's effective entitlements after the change and
replaces the entry. While the socket is down the cache answers nothing (every read goes to the server) and the
thread reconnects with exponential backoff; entries are dropped on
disconnect, since changes may have been missed.
The cache is a bounded LRU: the least recently used subject is evicted and its subscription completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from entitle_client._documents import ENTITLEMENTS_CHANGED
from entitle_client.types import EffectiveEntitlements, Subject

log = logging.getLogger("entitle_client.cache")

RECONNECT_BASE_S = 0.2
RECONNECT_MAX_S = 10.0

Listener = Callable[[Subject, EffectiveEntitlements], None]


class LiveCache:
    def __init__(self, ws_url: str, token: str, *, max_subjects: int = 10_000) -> None:
        self.ws_url = ws_url
        self.token = token
        self.max_subjects = max_subjects
        self._lock = threading.Lock()
        self._entries: OrderedDict[Subject, EffectiveEntitlements] = OrderedDict()
        self._ids: dict[Subject, str] = {}  # subscriptions open (or to open on connect)
        self._subjects: dict[str, Subject] = {}
        self._pending: dict[Subject, str] = {}  # subject -> revision a read must reflect (own writes)
        self._counter = itertools.count(1)
        self._listeners: list[Listener] = []
        self.connected = threading.Event()
        self._socket: ClientConnection | None = None
        self._closing = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="entitle-cache", daemon=True)
        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)

    # -- reads and writes from the client (any thread) --------------------------------------
    def get(self, subject: Subject) -> EffectiveEntitlements | None:
        if not self.connected.is_set():
            return None
        with self._lock:
            if subject in self._pending:
                return None
            entry = self._entries.get(subject)
            if entry is not None:
                self._entries.move_to_end(subject)
            return entry

    def wants(self, subject: Subject) -> bool:
        """True when a fetch of this subject would be kept (the subscription stream is up)."""
        return self.connected.is_set()

    def pending_revision(self, subject: Subject) -> str | None:
        with self._lock:
            return self._pending.get(subject)

    def require(self, subject: Subject, revision: str | None) -> None:
        """This client wrote for ``subject`` (at ``revision`` when the server said): the entry is dropped and
        the next read goes to the server, passing ``minRevision``."""
        with self._lock:
            self._entries.pop(subject, None)
            if revision is not None:
                self._pending[subject] = revision

    def watch(self, subject: Subject) -> None:
        """Subscribe to the subject's changes (before fetching it, so no change falls between the two)."""
        with self._lock:
            if subject in self._ids:
                return
            sub_id = str(next(self._counter))
            self._ids[subject] = sub_id
            self._subjects[sub_id] = subject
        asyncio.run_coroutine_threadsafe(self._subscribe(sub_id, subject), self._loop)

    def put(self, subject: Subject, effective: EffectiveEntitlements, revision: str | None = None) -> None:
        if not self.connected.is_set():
            return
        evicted: list[str] = []
        with self._lock:
            if revision is not None and self._pending.get(subject) == revision:
                del self._pending[subject]
            self._entries[subject] = EffectiveEntitlements(effective.features, effective.permissions, True)
            self._entries.move_to_end(subject)
            while len(self._entries) > self.max_subjects:
                old, _ = self._entries.popitem(last=False)
                if (old_id := self._ids.pop(old, None)) is not None:
                    self._subjects.pop(old_id, None)
                    evicted.append(old_id)
        for sub_id in evicted:
            asyncio.run_coroutine_threadsafe(self._complete(sub_id), self._loop)

    def add_listener(self, listener: Listener) -> None:
        """``listener(subject, effective)`` runs (on the cache thread) after each update from the stream."""
        self._listeners.append(listener)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        self._closing = True
        self._task.cancel()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close_socket(), self._loop).result(timeout=2)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2)
        if not self._thread.is_alive():
            self._loop.close()

    # -- the cache thread -------------------------------------------------------------------
    async def _close_socket(self) -> None:
        if self._socket is not None:
            await self._socket.close()

    async def _send(self, message: dict[str, Any]) -> None:
        socket = self._socket
        if socket is not None and self.connected.is_set():
            with contextlib.suppress(Exception):
                await socket.send(json.dumps(message))

    async def _subscribe(self, sub_id: str, subject: Subject) -> None:
        variables = {"t": subject.tenant_key, "u": subject.user_key}
        payload = {"query": ENTITLEMENTS_CHANGED, "variables": variables}
        await self._send({"id": sub_id, "type": "subscribe", "payload": payload})

    async def _complete(self, sub_id: str) -> None:
        await self._send({"id": sub_id, "type": "complete"})

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                async with connect(self.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
                    self._socket = socket
                    init = {"Authorization": f"Bearer {self.token}"}
                    await socket.send(json.dumps({"type": "connection_init", "payload": init}))
                    ack = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
                    if ack.get("type") != "connection_ack":
                        raise ConnectionError(f"no connection_ack: {ack.get('type')}")
                    with self._lock:
                        subscriptions = list(self._ids.items())
                    self.connected.set()
                    if attempt:
                        log.info("entitle cache reconnected")
                    attempt = 0
                    for subject, sub_id in subscriptions:
                        await self._subscribe(sub_id, subject)
                    async for raw in socket:
                        self._on_message(json.loads(raw))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == 0 and not self._closing:
                    log.warning("entitle cache disconnected (%s); reads go to the server", type(exc).__name__)
            finally:
                self._socket = None
                self._drop_all()
            if self._closing:
                return
            await asyncio.sleep(min(RECONNECT_MAX_S, RECONNECT_BASE_S * 2**attempt))
            attempt += 1

    def _drop_all(self) -> None:
        """The socket is gone, and its subscriptions with it: forget both (reads re-subscribe)."""
        self.connected.clear()
        with self._lock:
            self._entries.clear()
            self._ids.clear()
            self._subjects.clear()

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ping":
            self._loop.create_task(self._send({"type": "pong"}))
            return
        if kind != "next":
            if kind in ("error", "complete"):
                with self._lock:
                    subject = self._subjects.pop(str(message.get("id")), None)
                    if subject is not None:
                        self._ids.pop(subject, None)
                        self._entries.pop(subject, None)
            return
        data = (message.get("payload") or {}).get("data") or {}
        event = data.get("entitlementsChanged")
        if not event:
            return
        effective = EffectiveEntitlements.from_graphql(event["effective"])
        with self._lock:
            # Looked up and stored under one lock: a subject evicted meanwhile (its subscription being
            # completed) must not come back from an event still in flight.
            subject = self._subjects.get(str(message.get("id")))
            if subject is None:
                return
            if self._pending.get(subject) == event.get("revision"):
                del self._pending[subject]
            self._entries[subject] = EffectiveEntitlements(effective.features, effective.permissions, True)
            self._entries.move_to_end(subject)
        for listener in self._listeners:
            listener(subject, effective)
