"""A real HTTP webhook receiver on 127.0.0.1 (a thread of ``http.server``) and an independent verifier.

``verify`` checks a Standard Webhooks signature from the contract's formula with the standard
library's ``hmac`` only; the product signs with the ``standardwebhooks`` package (which ``svix``'s
verifier merely wraps, so it would not be an independent check).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """Records every POST; answers from ``answers`` in order (an int: that status; a float: sleep that
    many seconds, then 200), then ``default`` (200) after sleeping ``delay_s``."""

    def __init__(self, port: int = 0, *, delay_s: float = 0.0) -> None:
        self.requests: list[Received] = []
        self.answers: list[int | float] = []
        self.default = 200
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _next_answer(self) -> int | float:
        with self._lock:
            return self.answers.pop(0) if self.answers else self.default

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append(Received(self.path, headers, body, time.monotonic()))
                answer = receiver._next_answer()
                status = 200
                if isinstance(answer, float):
                    time.sleep(answer)
                else:
                    status = answer
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


def verify(secret: str, received: Received, *, tolerance_s: int = 300) -> bool:
    """True when one of the ``v1`` signatures is HMAC-SHA256(key, "{id}.{timestamp}.{body}")."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    headers = received.headers
    if abs(time.time() - int(headers["webhook-timestamp"])) > tolerance_s:
        return False
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + received.body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split(" "))
