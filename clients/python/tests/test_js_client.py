"""The JavaScript client's tests (node's test runner, clients/js/test/) against the same real ``entitle serve``;
skipped, saying so, when ``node`` is not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ADMIN_KEY, Server

JS = Path(__file__).parents[2] / "js"


def test_the_js_client_suite_passes(server: Server, down_url: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the JavaScript client tests (clients/js) did not run")
    env = {
        **os.environ,
        "ENTITLE_URL": server.base_url,
        "ENTITLE_TOKEN": ADMIN_KEY,
        "ENTITLE_DOWN_URL": down_url,
    }
    result = subprocess.run(
        [node, "--experimental-websocket", "--test", "test/"],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
