"""GraphiQL in a real headless Chromium (Debian's), with no request leaving the host (contract §12)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, require, run_node
from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory

pytestmark = pytest.mark.e2e


def test_graphiql_runs_a_query_with_everything_served_by_the_service(
    node_modules: Path, serve: ServeFactory, sqlite_url: str, tmp_path: Path
) -> None:
    # given
    require(os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} not installed (apt-get install chromium)")
    server = serve({"DATABASE_URL": sqlite_url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY})
    # when
    code, report, output = run_node("graphiql.mjs", server.base_url, ADMIN_KEY, str(tmp_path / "page.png"))
    # then
    assert code == 0, output
    assert report["offHost"] == [], report
    assert report["errors"] == [], report
    assert "Bearer <your API key or JWT>" in report["prefilledHeaders"]
    assert report["result"] == {"data": {"viewer": {"kind": "MANAGEMENT"}}}
    static = [r for r in report["requests"] if "/graphql/static/" in r]
    assert len(static) == 8, report["requests"]
    assert all(r.split(" ", 1)[1].startswith(server.base_url) for r in report["requests"]), report
