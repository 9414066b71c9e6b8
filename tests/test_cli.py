"""The `entitle` commands of contract §1, run in-process with typer's runner on a fresh SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from entitle.auth import Authenticator
from entitle.cli import app
from entitle.db.engine import Database
from entitle.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("ENTITLE_BOOTSTRAP_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return url


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda c: sa.inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_export_schema_prints_exactly_the_committed_schema_file() -> None:
    result = CliRunner().invoke(app, ["export-schema"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (ROOT / "schema.graphql").read_text()


def test_migrate_creates_every_table_on_an_empty_database(database_file: str) -> None:
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert {
        "features",
        "plans",
        "tenants",
        "users",
        "entitlements",
        "api_keys",
        "alembic_version",
    } <= _tables(database_file)


@pytest.mark.parametrize("read_only", [False, True], ids=["full_key", "read_only_key"])
def test_create_api_key_prints_a_key_that_authenticates_once_stored(
    database_file: str, read_only: bool
) -> None:
    # when
    result = CliRunner().invoke(
        app, ["create-api-key", "--name", "ops", *(["--read-only"] if read_only else [])]
    )
    # then
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("ent_")

    async def authenticate() -> tuple[str, str | None, bool]:
        settings = Settings(_env_file=None, database_url=database_file)  # type: ignore[call-arg]
        database = Database(settings)
        try:
            principal = await Authenticator(settings, database).authenticate(f"Bearer {secret}")
            return principal.kind, principal.name, principal.read_only
        finally:
            await database.dispose()

    assert asyncio.run(authenticate()) == ("MANAGEMENT", "ops", read_only)


def test_seed_demo_loads_once_and_is_idempotent(database_file: str) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["seed-demo"])
    second = runner.invoke(app, ["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "demo data loaded: 7 features, 4 plans, 3 tenants, 4 users, 7 entitlements" in first.stdout
    assert second.exit_code == 0, second.output
    assert "already loaded" in second.stdout
