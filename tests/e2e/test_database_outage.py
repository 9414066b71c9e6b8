"""A real ``entitle serve`` against a PostgreSQL cluster of the test's own that is stopped, frozen
(SIGSTOP) or not up yet: contract §7 ``SERVICE_UNAVAILABLE`` (HTTP 503 + Retry-After), bounded waits,
one log line per outage instead of a traceback per request, and recovery without a restart."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory, _clean_env, admin_headers, free_port
from tests.throwaway_postgres import ThrowawayPostgres, throwaway_postgres

pytestmark = pytest.mark.e2e
__all__ = ["throwaway_postgres"]  # the fixture, imported for the tests below

TIMEOUT_S = 1.0
"""Connect, statement, pool and /readyz timeouts of the servers under test."""

CREATE_FEATURE = "mutation($input: CreateFeatureInput!) { createFeature(input: $input) { key } }"
CREATE_PLAN = "mutation($input: CreatePlanInput!) { createPlan(input: $input) { key } }"
UPSERT_TENANTS = "mutation($input: [TenantInput!]!) { upsertTenants(input: $input) { errors { code } } }"
CREATE_ENTITLEMENT = "mutation($input: CreateEntitlementInput!) { createEntitlement(input: $input) { id } }"
IS_ENTITLED = 'query { isEntitledTo(tenantKey: "acme", featureKey: "sso") { isEntitled justification } }'


def outage_settings(cluster: ThrowawayPostgres, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": cluster.url(),
        "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "ENTITLE_DB_CONNECT_TIMEOUT_S": str(TIMEOUT_S),
        "ENTITLE_DB_STATEMENT_TIMEOUT_S": str(TIMEOUT_S),
        "ENTITLE_DB_POOL_TIMEOUT_S": str(TIMEOUT_S),
        "ENTITLE_READYZ_TIMEOUT_S": str(TIMEOUT_S),
        **extra,
    }


def post(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    return client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=admin_headers()
    )


def data(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = post(client, query, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def create_feature(client: httpx.Client, key: str) -> httpx.Response:
    return post(client, CREATE_FEATURE, {"input": {"key": key, "name": key, "type": "BOOLEAN"}})


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    errors = response.json()["errors"]
    assert {error["extensions"]["code"] for error in errors} == {"SERVICE_UNAVAILABLE"}
    assert "Traceback" not in response.text
    assert "SELECT" not in response.text.upper()


def wait_until(predicate: Any, timeout_s: float, what: str) -> float:
    """Seconds until ``predicate()`` held; fails the test after ``timeout_s``."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout_s, f"{what} not within {timeout_s} s"
        time.sleep(0.05)
    return time.monotonic() - started


def new_log_lines(server_log: str, before: int) -> list[str]:
    return server_log.splitlines()[before:]


def test_a_stopped_database_answers_503_at_once_logs_one_line_and_recovers_on_restart(
    serve: ServeFactory, throwaway_postgres: ThrowawayPostgres
) -> None:
    # given
    cluster = throwaway_postgres
    server = serve(outage_settings(cluster))
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert create_feature(client, "before").status_code == 200
        lines_before = len(server.stderr().splitlines())
        # when
        cluster.stop()
        slowest = 0.0
        for index in range(50):
            started = time.monotonic()
            response = create_feature(client, f"during-{index}")
            slowest = max(slowest, time.monotonic() - started)
            # then
            assert_unavailable(response)
        unknown_key = client.post(
            "/graphql", json={"query": "{ viewer { kind } }"}, headers=admin_headers("not-a-cached-key")
        )
        assert_unavailable(unknown_key)  # the key cannot be checked: not UNAUTHENTICATED, not 500
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["retry-after"].isdigit()
        time.sleep(0.5)  # the revision watcher keeps failing meanwhile, every 50 ms
        during = new_log_lines(server.stderr(), lines_before)
        assert slowest < 2.0, f"a request took {slowest:.2f} s"
        assert len(during) <= 3, during
        assert [line for line in during if "database unavailable: " in line] != [], during
        assert not any("Traceback" in line or "INTERNAL" in line for line in during), during
        # and when it is back
        cluster.start()
        wait_until(lambda: create_feature(client, "after").status_code == 200, 10, "recovery")
        assert client.get("/readyz").status_code == 200
        time.sleep(0.2)
    after = new_log_lines(server.stderr(), lines_before)
    assert len([line for line in after if "database available again" in line]) == 1, after
    assert len(after) <= 4, after
    assert server.alive()


def test_a_frozen_database_answers_503_within_the_timeouts_and_readyz_says_so(
    serve: ServeFactory, throwaway_postgres: ThrowawayPostgres
) -> None:
    # given: the server holds pooled connections to the cluster
    cluster = throwaway_postgres
    server = serve(outage_settings(cluster))
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        assert create_feature(client, "before").status_code == 200
        lines_before = len(server.stderr().splitlines())
        # when: every process of the cluster stops answering (connections are still accepted)
        cluster.freeze()
        try:
            timings = []
            for index in range(3):
                started = time.monotonic()
                response = create_feature(client, f"during-{index}")
                timings.append(time.monotonic() - started)
                # then: statement timeout + 1 s client slack (pooled) or connect timeout (new), plus margin
                assert_unavailable(response)
            started = time.monotonic()
            ready = client.get("/readyz")
            readyz_s = time.monotonic() - started
        finally:
            cluster.thaw()
        assert max(timings) < 2 * TIMEOUT_S + 1.5, timings
        assert ready.status_code == 503
        assert readyz_s < TIMEOUT_S + 0.5, readyz_s
        # and after SIGCONT it serves again
        recovery_s = wait_until(
            lambda: create_feature(client, "after").status_code == 200, 10, "recovery after SIGCONT"
        )
        assert client.get("/readyz").status_code == 200
        time.sleep(0.2)
    lines = new_log_lines(server.stderr(), lines_before)
    assert len([line for line in lines if "database unavailable: " in line]) == 1, lines
    assert len([line for line in lines if "database available again" in line]) == 1, lines
    assert not any("Traceback" in line for line in lines), lines
    assert recovery_s < 5, recovery_s


def test_cached_decisions_are_served_while_the_database_is_down_for_at_most_the_staleness_bound(
    serve: ServeFactory, throwaway_postgres: ThrowawayPostgres
) -> None:
    # given: a decision this process has answered (catalog and subject cached)
    cluster = throwaway_postgres
    max_stale_s = 3.0
    server = serve(outage_settings(cluster, ENTITLE_CACHE_MAX_STALE_S=str(max_stale_s)))
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        data(client, CREATE_FEATURE, {"input": {"key": "sso", "name": "SSO", "type": "BOOLEAN"}})
        plan = {"key": "pro", "name": "Pro", "features": [{"featureKey": "sso", "value": True}]}
        data(client, CREATE_PLAN, {"input": plan})
        data(client, UPSERT_TENANTS, {"input": [{"key": "acme"}]})
        data(client, CREATE_ENTITLEMENT, {"input": {"planKey": "pro", "tenantKey": "acme"}})
        assert data(client, IS_ENTITLED)["data"]["isEntitledTo"]["isEntitled"] is True
        # when
        cluster.stop()
        down_at = time.monotonic()
        time.sleep(0.3)  # several failed revision polls
        within = post(client, IS_ENTITLED)
        within_at = time.monotonic() - down_at
        time.sleep(max(0.0, max_stale_s + 0.5 - (time.monotonic() - down_at)))
        beyond = post(client, IS_ENTITLED)
        # then
        assert within_at < max_stale_s
        assert within.status_code == 200, within.text
        assert within.json()["data"]["isEntitledTo"] == {"isEntitled": True, "justification": None}
        assert_unavailable(beyond)
        # and once it is back, decisions come from the database again
        cluster.start()
        wait_until(lambda: post(client, IS_ENTITLED).status_code == 200, 10, "recovery")
        assert data(client, IS_ENTITLED)["data"]["isEntitledTo"]["isEntitled"] is True


def serve_command(settings: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "entitle", "serve", "--port", str(free_port())],
        env=_clean_env(settings),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_serve_waits_for_a_database_that_comes_up_late(
    serve: ServeFactory, throwaway_postgres: ThrowawayPostgres, tmp_path: Path
) -> None:
    # given: the database starts 1 s after the server reported that it is waiting for it
    cluster = throwaway_postgres
    cluster.stop()

    def waiting() -> bool:
        return any("waiting for the database" in path.read_text() for path in tmp_path.glob("serve-*.stderr"))

    def start_late() -> None:
        wait_until(waiting, 60, "the server's first 'waiting' line")
        time.sleep(1.0)
        cluster.start()

    late_start = threading.Thread(target=start_late)
    late_start.start()
    try:
        # when
        server = serve(outage_settings(cluster, ENTITLE_DB_WAIT_S="60"))
    finally:
        late_start.join()
    # then
    log = server.stderr()
    assert "waiting for the database (connection refused): attempt 1," in log, log
    assert "the database is up" in log, log
    assert "Traceback" not in log, log
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        assert create_feature(client, "served").status_code == 200


def test_serve_gives_up_on_a_database_that_stays_down_with_one_line_and_a_nonzero_exit(
    throwaway_postgres: ThrowawayPostgres, tmp_path: Path
) -> None:
    # given
    cluster = throwaway_postgres
    cluster.stop()
    wait_s = 2.0
    # when
    started = time.monotonic()
    process = serve_command(outage_settings(cluster, ENTITLE_DB_WAIT_S=str(wait_s)), tmp_path)
    try:
        _, stderr = process.communicate(timeout=wait_s + 20)
    finally:
        if process.poll() is None:
            process.kill()
    took = time.monotonic() - started
    # then
    lines = stderr.decode().splitlines()
    assert process.returncode == 1, lines
    assert "Traceback" not in stderr.decode(), lines
    assert lines[-1].startswith("error: the database is unavailable (connection refused); gave up after"), (
        lines
    )
    assert all(line.startswith("waiting for the database (connection refused)") for line in lines[:-1]), lines
    assert 1 <= len(lines) - 1 <= wait_s + 1, lines
    assert took < wait_s + TIMEOUT_S + 8, took  # the wait bound, one connect timeout, interpreter start-up
