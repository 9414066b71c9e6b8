"""The live cache: effective entitlements of the subjects asked, kept fresh by ``entitlementsChanged``.

A background thread runs its own asyncio loop holding WebSockets (``graphql-transport-ws``) with one
subscription per cached subject, at most ``subscriptions_per_socket`` on each (the server refuses more than
100 on one connection: strawberry's ``max_subscriptions_per_connection``), opening another socket when all
are full. Each event carries the subject's effective entitlements after the change and replaces the entry.
An entry is kept only while its subject's subscription is live: when a socket is down, its subjects' entries
are dropped (changes may have been missed), reads of them go to the server, and the socket reconnects with
exponential backoff; a subscription the server refuses or completes drops its entry too.
The cache is a bounded LRU: the least recently used subject is evicted and its subscription completed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
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
SUBSCRIPTIONS_PER_SOCKET = 100

Listener = Callable[[Subject, EffectiveEntitlements], None]


class _Socket:
    """One WebSocket and the subscriptions on it (``ids`` is guarded by the cache's lock; ``sent``, the ids
    subscribed on the current connection, is used on the cache thread only)."""

    def __init__(self) -> None:
        self.connection: ClientConnection | None = None
        self.connected = threading.Event()
        self.ids: set[str] = set()
        self.sent: set[str] = set()
        self.future: concurrent.futures.Future[None] | None = None


class LiveCache:
    def __init__(
        self,
        ws_url: str,
        token: str,
        *,
        max_subjects: int = 10_000,
        subscriptions_per_socket: int = SUBSCRIPTIONS_PER_SOCKET,
    ) -> None:
        self.ws_url = ws_url
        self.token = token
        self.max_subjects = max_subjects
        self.subscriptions_per_socket = subscriptions_per_socket
        self._lock = threading.Lock()
        self._entries: OrderedDict[Subject, EffectiveEntitlements] = OrderedDict()
        self._ids: dict[Subject, str] = {}  # subscriptions open (or to open on connect)
        self._subjects: dict[str, Subject] = {}
        self._socket_of: dict[str, _Socket] = {}
        self._pending: dict[Subject, str] = {}  # subject -> revision a read must reflect (own writes)
        self._counter = itertools.count(1)
        self._listeners: list[Listener] = []
        self._closing = False
        self._sockets: list[_Socket] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="entitle-cache", daemon=True)
        self._thread.start()
        with self._lock:
            self._open_socket()

    @property
    def connected(self) -> threading.Event:
        """Set while the first socket is up: the service is reachable and subjects asked are kept."""
        return self._sockets[0].connected

    # -- reads and writes from the client (any thread) --------------------------------------
    def get(self, subject: Subject) -> EffectiveEntitlements | None:
        with self._lock:
            entry = self._entries.get(subject)
            if entry is None or subject in self._pending:
                return None
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
            socket = (
                next((s for s in self._sockets if len(s.ids) < self.subscriptions_per_socket), None)
                or self._open_socket()
            )
            sub_id = str(next(self._counter))
            self._ids[subject] = sub_id
            self._subjects[sub_id] = subject
            self._socket_of[sub_id] = socket
            socket.ids.add(sub_id)
            if all(len(s.ids) >= self.subscriptions_per_socket for s in self._sockets):
                self._open_socket()  # connected by the time the next subject needs it
        asyncio.run_coroutine_threadsafe(self._subscribe(socket, sub_id), self._loop)

    def put(self, subject: Subject, effective: EffectiveEntitlements, revision: str | None = None) -> None:
        """Keep ``effective`` (just fetched) while the subject's subscription is live (no change missed)."""
        evicted: list[tuple[_Socket, str]] = []
        with self._lock:
            sub_id = self._ids.get(subject)
            if sub_id is None or not self._socket_of[sub_id].connected.is_set():
                return  # refused, completed or dropped meanwhile: nothing would keep the entry fresh
            if revision is not None and self._pending.get(subject) == revision:
                del self._pending[subject]
            self._entries[subject] = EffectiveEntitlements(effective.features, effective.permissions, True)
            self._entries.move_to_end(subject)
            while len(self._entries) > self.max_subjects:
                old, _ = self._entries.popitem(last=False)
                if (old_id := self._ids.pop(old, None)) is not None:
                    evicted.append((self._forget(old_id), old_id))
        for socket, old_id in evicted:
            asyncio.run_coroutine_threadsafe(self._complete(socket, old_id), self._loop)

    def add_listener(self, listener: Listener) -> None:
        """``listener(subject, effective)`` runs (on the cache thread) after each update from the stream."""
        self._listeners.append(listener)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def sockets(self) -> int:
        """How many WebSockets the cache holds."""
        with self._lock:
            return len(self._sockets)

    def close(self) -> None:
        self._closing = True
        with self._lock:
            sockets = list(self._sockets)
        for socket in sockets:
            if socket.future is not None:
                socket.future.cancel()
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close_sockets(sockets), self._loop).result(timeout=2)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2)
        if not self._thread.is_alive():
            self._loop.close()

    def _open_socket(self) -> _Socket:
        """A new socket, connecting on the cache thread (called under the lock)."""
        socket = _Socket()
        self._sockets.append(socket)
        socket.future = asyncio.run_coroutine_threadsafe(self._run(socket), self._loop)
        return socket

    def _forget(self, sub_id: str) -> _Socket:
        """Forget a subscription (under the lock; the caller has popped it from ``_ids``)."""
        self._subjects.pop(sub_id, None)
        socket = self._socket_of.pop(sub_id)
        socket.ids.discard(sub_id)
        return socket

    # -- the cache thread -------------------------------------------------------------------
    async def _close_sockets(self, sockets: list[_Socket]) -> None:
        for socket in sockets:
            if socket.connection is not None:
                await socket.connection.close()

    async def _send(self, socket: _Socket, message: dict[str, Any]) -> None:
        connection = socket.connection
        if connection is not None and socket.connected.is_set():
            with contextlib.suppress(Exception):
                await connection.send(json.dumps(message))

    async def _subscribe(self, socket: _Socket, sub_id: str) -> None:
        """Send the subscription once per connection (it is sent both on connect and by ``watch``: a second
        ``subscribe`` with the same id would make the server close the socket)."""
        with self._lock:
            subject = self._subjects.get(sub_id)
        if subject is None or sub_id in socket.sent or not socket.connected.is_set():
            return
        socket.sent.add(sub_id)
        variables = {"t": subject.tenant_key, "u": subject.user_key}
        payload = {"query": ENTITLEMENTS_CHANGED, "variables": variables}
        await self._send(socket, {"id": sub_id, "type": "subscribe", "payload": payload})

    async def _complete(self, socket: _Socket, sub_id: str) -> None:
        if sub_id in socket.sent:
            socket.sent.discard(sub_id)
            await self._send(socket, {"id": sub_id, "type": "complete"})

    async def _run(self, socket: _Socket) -> None:
        attempt = 0
        while not self._closing:
            try:
                async with connect(self.ws_url, subprotocols=["graphql-transport-ws"]) as connection:  # type: ignore[list-item]
                    socket.connection = connection
                    init = {"Authorization": f"Bearer {self.token}"}
                    await connection.send(json.dumps({"type": "connection_init", "payload": init}))
                    ack = json.loads(await asyncio.wait_for(connection.recv(), timeout=10))
                    if ack.get("type") != "connection_ack":
                        raise ConnectionError(f"no connection_ack: {ack.get('type')}")
                    socket.sent = set()
                    with self._lock:
                        sub_ids = list(socket.ids)
                        socket.connected.set()
                    if attempt:
                        log.info("entitle cache reconnected")
                    attempt = 0
                    for sub_id in sub_ids:
                        await self._subscribe(socket, sub_id)
                    async for raw in connection:
                        self._on_message(socket, json.loads(raw))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == 0 and not self._closing:
                    log.warning("entitle cache disconnected (%s); reads go to the server", type(exc).__name__)
            finally:
                socket.connection = None
                self._drop(socket)
            if self._closing:
                return
            await asyncio.sleep(min(RECONNECT_MAX_S, RECONNECT_BASE_S * 2**attempt))
            attempt += 1

    def _drop(self, socket: _Socket) -> None:
        """The socket is gone, and its subscriptions with it: forget both (reads re-subscribe)."""
        with self._lock:
            socket.connected.clear()
            for sub_id in list(socket.ids):
                subject = self._subjects.get(sub_id)
                if subject is not None:
                    self._ids.pop(subject, None)
                    self._entries.pop(subject, None)
                self._forget(sub_id)

    def _on_message(self, socket: _Socket, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ping":
            self._loop.create_task(self._send(socket, {"type": "pong"}))
            return
        if kind != "next":
            if kind in ("error", "complete"):
                if kind == "error":
                    log.warning("entitle cache: a subscription was refused: %s", message.get("payload"))
                with self._lock:
                    sub_id = str(message.get("id"))
                    subject = self._subjects.get(sub_id)
                    if subject is not None:
                        self._ids.pop(subject, None)
                        self._entries.pop(subject, None)
                        self._forget(sub_id)
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
            # Updated where it stands: an event is not a use, so it must not save the subject from eviction
            # (reads order the LRU; an entry refreshed by the stream keeps its place).
            self._entries[subject] = EffectiveEntitlements(effective.features, effective.permissions, True)
        for listener in self._listeners:
            listener(subject, effective)
