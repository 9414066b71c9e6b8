"""A PostgreSQL cluster of the test's own, that it may stop, start, freeze and thaw.

The shared server on 5432 must never be touched, so outage tests run ``initdb`` into a temp dir and
start a postmaster on a free port (as the ``postgres`` OS user when running as root: initdb refuses
root). ``freeze()`` SIGSTOPs the postmaster and every process it forked (found as its children in
/proc, by this cluster's postmaster pid), which is what a hung database host looks like to a client:
connections are accepted by the kernel and never answered.

Missing PostgreSQL binaries skip the test, unless ``ENTITLE_TEST_POSTGRES=1`` (then they fail it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

REQUIRE_PG = os.environ.get("ENTITLE_TEST_POSTGRES") == "1"


def _bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class ThrowawayPostgres:
    def __init__(self, root: Path, bindir: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as_user, str(self.bindir / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, committed data stays (fsync=off only risks an OS crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def processes(self) -> list[int]:
        """The postmaster and every process it forked (backends, checkpointer, ...)."""
        postmaster = self.postmaster_pid()
        if postmaster is None:
            return []
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    children.append(int(Path(stat).parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in reversed(self.processes()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        self.thaw()
        with contextlib.suppress(subprocess.SubprocessError):
            if self.postmaster_pid() is not None:
                self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A started cluster of this test's own (``postgres`` database, trust auth), destroyed afterwards."""
    bindir = _bindir()
    if bindir is None:
        if REQUIRE_PG:
            pytest.fail(
                "ENTITLE_TEST_POSTGRES=1 but the PostgreSQL binaries (initdb, pg_ctl) are not installed"
            )
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed")
    cluster = ThrowawayPostgres(Path(tempfile.mkdtemp(prefix="entitle-pg-")), bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
