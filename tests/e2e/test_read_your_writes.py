"""Consistency tokens across the workers of a real ``entitle serve --workers 2`` on PostgreSQL (contract §9):
a read carrying a mutation's ``extensions.revision`` as ``minRevision`` reflects that write on whichever
worker answers it, every time."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import ServeFactory
from tests.e2e.test_workers import post_fresh

pytestmark = pytest.mark.e2e

PAIRS = 50

SEED = [
    'mutation { createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key } }',
    'mutation { upsertTenants(input: [{key: "acme"}]) { errors { message } } }',
    'mutation { upsertUsers(input: [{key: "alice", tenantKeys: ["acme"]}]) { errors { message } } }',
]
GRANT = 'mutation { createEntitlement(input: {featureKey: "sso", tenantKey: "acme"}) { id } }'
REVOKE = "mutation($id: ID!) { revokeEntitlements(ids: [$id]) { revokedCount } }"
DECIDE = """query($rev: String) {
  isEntitledTo(tenantKey: "acme", userKey: "alice", featureKey: "sso", minRevision: $rev) { isEntitled }
}"""
EFFECTIVE = """query($rev: String) {
  effectiveEntitlements(tenantKey: "acme", userKey: "alice", minRevision: $rev) { features { feature { key } } }
}"""
LISTED = """query($rev: String) {
  entitlements(filter: {tenantKeys: ["acme"], status: [ACTIVE]}, minRevision: $rev) { totalCount }
}"""


def test_reads_with_the_writes_revision_are_never_stale_on_either_worker(
    serve: ServeFactory, postgres_url: str
) -> None:
    # given: two workers; the poll is slowed to a minute, so only NOTIFY or the token itself can freshen a
    # worker in time (the scheduler and the webhook worker run, as in production)
    server = serve(
        {
            "DATABASE_URL": postgres_url,
            "ENTITLE_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "ENTITLE_CACHE_POLL_MS": "60000",
        },
        workers=2,
    )
    for query in SEED:
        post_fresh(server.base_url, query)
    readers: Counter[str] = Counter()
    cross_worker = 0
    stale: list[str] = []
    granted: str | None = None
    for pair in range(PAIRS):
        # when: a grant (even pairs) or its revocation (odd pairs) through one connection
        if granted is None:
            write = post_fresh(server.base_url, GRANT)
            granted = write.data["createEntitlement"]["id"]
        else:
            write = post_fresh(server.base_url, REVOKE, {"id": granted})
            assert write.data["revokeEntitlements"]["revokedCount"] == 1
            granted = None
        revision = write.extensions["revision"]
        expected = granted is not None
        # then: each read, over a fresh connection (any worker may accept it), reflects the write
        answers = [
            post_fresh(server.base_url, query, {"rev": revision}) for query in (DECIDE, EFFECTIVE, LISTED)
        ]
        decided, effective, listed = (a.data for a in answers)
        seen = (
            decided["isEntitledTo"]["isEntitled"],
            {"feature": {"key": "sso"}} in effective["effectiveEntitlements"]["features"],
            listed["entitlements"]["totalCount"] == 1,
        )
        if seen != (expected,) * 3:
            stale.append(
                f"pair {pair}: wrote on {write.pid}, expected {expected}, read {seen} on "
                f"{[a.pid for a in answers]}"
            )
        readers.update(a.pid for a in answers)
        cross_worker += sum(a.pid != write.pid for a in answers)
    assert stale == []
    assert len(readers) == 2, f"only {dict(readers)} answered the reads"
    assert cross_worker > 0
    print(f"\n{PAIRS} write/read pairs: reads per worker {dict(readers)}, {cross_worker} on the other worker")
