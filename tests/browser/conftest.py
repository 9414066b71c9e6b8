"""Node-driven tests (headless Chromium, graphql-http audit) against a real ``entitle serve``.

``node`` runs the scripts of this folder with the npm packages of its ``package-lock.json`` (``npm ci``,
run here once under a file lock when ``node_modules`` is missing or older than the lock file).
Without ``node``/``npm`` (or ``/usr/bin/chromium`` for the browser test) the tests skip, saying what is
missing, unless ``ENTITLE_TEST_BROWSER=1`` (as in CI), which turns a missing tool into a failure.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import serve, sqlite_url  # noqa: F401 (fixtures)

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
REQUIRED = os.environ.get("ENTITLE_TEST_BROWSER") == "1"
NODE_TIMEOUT_S = 180


def require(condition: bool, missing: str) -> None:
    if condition:
        return
    message = f"{missing} (CI installs it; set ENTITLE_TEST_BROWSER=1 to make this a failure)"
    if REQUIRED:
        pytest.fail(f"ENTITLE_TEST_BROWSER=1 but {missing}")
    pytest.skip(message)


def _installed() -> bool:
    marker = HERE / "node_modules" / ".package-lock.json"
    return marker.exists() and marker.stat().st_mtime >= (HERE / "package-lock.json").stat().st_mtime


@pytest.fixture(scope="session")
def node_modules() -> Path:
    require(shutil.which("node") is not None and shutil.which("npm") is not None, "node/npm not installed")
    if not _installed():
        with (HERE / ".npm-ci.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers: one npm ci at a time
            if not _installed():
                result = subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund"],
                    cwd=HERE,
                    capture_output=True,
                    text=True,
                    timeout=NODE_TIMEOUT_S,
                    check=False,
                )
                require(result.returncode == 0, f"npm ci failed in tests/browser:\n{result.stderr[-2000:]}")
    return HERE / "node_modules"


def run_node(script: str, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run ``node <script> args...``; its last stdout line is a JSON report."""
    result = subprocess.run(
        ["node", str(HERE / script), *args],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    try:
        report: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        report = {}
    return result.returncode, report, result.stdout + result.stderr
