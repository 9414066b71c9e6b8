"""End-to-end fixtures: real ``entitle serve`` processes on free local ports.

``serve(env, workers=...)`` starts ``python -m entitle serve`` in its own process group with exactly
the given settings (no inherited ``ENTITLE_*``/``DATABASE_URL``, no ``.env``: it runs in a temp dir),
waits for ``/readyz`` (bounded) and returns a ``Server``. Every server is stopped at teardown by
signalling its whole process group (uvicorn's supervisor and its workers), SIGKILL if it lingers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import ADMIN_KEY, PG_BASE, pg_available

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM the whole process group, SIGKILL what is left after ``STOP_TIMEOUT_S``."""
        pgid = self.process.pid  # start_new_session: the group id is the leader's pid
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT_S)
        # Workers may outlive the supervisor (or it was killed); leave nothing of the group behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)


def _clean_env(settings: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ENTITLE_") and k != "DATABASE_URL" and not k.startswith("PYTEST_")
    }
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_server(settings: dict[str, str], workdir: Path, *, workers: int = 1) -> Server:
    """Start ``entitle serve`` and wait until ``/readyz`` answers 200; the caller must ``stop()`` it."""
    port = free_port()
    stderr_path = workdir / f"serve-{port}.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "entitle",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=_clean_env(settings),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, stderr_path)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if not server.alive():
            raise RuntimeError(f"entitle serve exited with {process.returncode}:\n{server.stderr()}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"entitle serve not ready after {READY_TIMEOUT_S} s:\n{server.stderr()}")
        time.sleep(0.1)


ServeFactory = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFactory]:
    """``serve(settings, workers=1)`` → a ready ``Server``; all are stopped when the test ends."""
    servers: list[Server] = []

    def factory(settings: dict[str, str], *, workers: int = 1) -> Server:
        server = start_server(settings, tmp_path, workers=workers)
        servers.append(server)
        return server

    try:
        yield factory
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"


def _admin(statement: str) -> None:
    async def run() -> None:
        engine = create_async_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    if not pg_available():
        pytest.skip("PostgreSQL not reachable (set ENTITLE_TEST_POSTGRES=1 to require it)")
    name = f"entitle_e2e_{os.getpid()}_{time.monotonic_ns() % 1_000_000}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_BASE}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin_headers(token: str = ADMIN_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
