"""The JavaScript client's tests (node's test runner, clients/js/test/*.test.js: the client, the React bindings and
the React example page) against the same real ``entitle serve`` (and one that the restart test runs itself).

The React tests need the devDependencies of clients/js/package-lock.json: ``npm ci`` runs here (once, under a file
lock) when ``node_modules`` is missing or older than the lock file. Without ``node``/``npm`` the test skips, saying
so, unless ``ENTITLE_TEST_JS=1`` (as in CI), which turns a missing tool into a failure."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN_KEY, Server

JS = Path(__file__).parents[2] / "js"
REQUIRED = os.environ.get("ENTITLE_TEST_JS") == "1"
NPM_CI_TIMEOUT_S = 300


def _installed() -> bool:
    marker = JS / "node_modules" / ".package-lock.json"  # written by npm ci / npm install
    return marker.exists() and marker.stat().st_mtime >= (JS / "package-lock.json").stat().st_mtime


def _npm_ci() -> None:
    with (JS / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers: one npm ci at a time
        if _installed():
            return
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, f"npm ci failed in clients/js:\n{result.stderr[-2000:]}"


def test_the_js_client_suite_passes(server: Server, down_url: str) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "node/npm not installed: the JavaScript client tests (clients/js) did not run"
        if REQUIRED:
            pytest.fail(message + " (ENTITLE_TEST_JS=1)")
        pytest.skip(message)
    if not _installed():
        _npm_ci()
    env = {
        **os.environ,
        "ENTITLE_URL": server.base_url,
        "ENTITLE_TOKEN": ADMIN_KEY,
        "ENTITLE_DOWN_URL": down_url,
        "ENTITLE_PYTHON": sys.executable,  # test/react-restart.test.js starts and restarts its own serve
    }
    files = sorted(str(path.relative_to(JS)) for path in (JS / "test").glob("*.test.js"))
    result = subprocess.run(
        [node, "--experimental-websocket", "--test", "--test-concurrency=2", *files],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
    assert "# pass 0" not in result.stdout
