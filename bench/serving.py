"""A real ``entitle serve`` on a free 127.0.0.1 port, for the load scripts beside this file.

``EntitleServer.start(database_url, workdir)`` runs ``python -m entitle serve`` (this interpreter,
migrations included) in its own process group with only the given settings, waits for ``/readyz``
(bounded) and returns; ``stop()`` signals the whole group (SIGKILL if it lingers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
ADMIN_KEY = "bench-admin-key-0123456789"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class EntitleServer:
    base_url: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    @classmethod
    def start(
        cls, database_url: str, workdir: Path, *, workers: int = 1, extra_env: dict[str, str] | None = None
    ) -> EntitleServer:
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ENTITLE_") and k != "DATABASE_URL" and not k.startswith("PYTEST_")
        }
        env.update(
            {"DATABASE_URL": database_url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY, "PYTHONUNBUFFERED": "1"}
        )
        env.update(extra_env or {})
        stderr_path = workdir / f"serve-{port}.stderr"
        argv = [sys.executable, "-m", "entitle", "serve", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", str(workers)]
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        server = cls(f"http://127.0.0.1:{port}", process, stderr_path)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"entitle serve exited with {process.returncode}:\n{server.stderr()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.base_url}/readyz", timeout=1.0).status_code == 200:
                    return server
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"entitle serve not ready after {READY_TIMEOUT_S} s:\n{server.stderr()}")
            time.sleep(0.1)

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def serving_pids(self) -> list[int]:
        """The process that answers requests: the worker(s) if uvicorn supervises, else the leader."""
        children = _children(self.process.pid)
        return children or [self.process.pid]

    def stop(self) -> None:
        pgid = self.process.pid
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` (and their threads), from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


def gql_sync(client: httpx.Client, url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    """``data`` of a request that must succeed (seeding)."""
    response = client.post(url, json={"query": query, "variables": variables or {}}, headers=admin_headers())
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"{query[:60]}...: {body['errors']}")
    return body["data"]
