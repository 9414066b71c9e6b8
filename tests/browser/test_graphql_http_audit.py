"""The graphql-http audit (GraphQL-over-HTTP conformance) against a real ``entitle serve`` (contract §12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import run_node
from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory

pytestmark = pytest.mark.e2e


def test_the_graphql_http_audit_shows_no_error_and_no_warning(
    node_modules: Path, serve: ServeFactory, sqlite_url: str
) -> None:
    # given
    server = serve({"DATABASE_URL": sqlite_url, "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY})
    # when
    code, report, output = run_node("audit.mjs", server.graphql_url, ADMIN_KEY)
    # then
    assert report, output
    assert report["problems"] == [], report
    assert report["counts"]["error"] == 0
    assert report["counts"]["warn"] == 0
    assert report["counts"]["ok"] >= 60
    assert code == 0, output
