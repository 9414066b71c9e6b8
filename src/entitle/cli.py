"""The ``entitle`` command (contract §1)."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from entitle.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Entitle: entitlements over GraphQL.")

_json_logs = False
"""Set by ``serve`` with ``ENTITLE_LOG_FORMAT=json``: the command's own lines are JSON log records too."""


def _say(message: str, level: int = logging.INFO) -> None:
    """One line on stderr: plain text, or a JSON log record under ``ENTITLE_LOG_FORMAT=json``."""
    if _json_logs:
        logging.getLogger("entitle.cli").log(level, message)
    else:
        typer.echo(message, err=True)


async def _first_start_key(settings: Settings) -> str | None:
    """With an empty key table and no bootstrap key, create one management key to print once."""
    from entitle.auth import count_api_keys, create_api_key
    from entitle.db.engine import Database

    database = Database(settings)
    try:
        if settings.entitle_bootstrap_api_key:
            await create_api_key(database, "bootstrap", secret=settings.entitle_bootstrap_api_key)
            return None
        if await count_api_keys(database) > 0:
            return None
        return await create_api_key(database, "first-start")
    finally:
        await database.dispose()


async def _no_api_key(settings: Settings) -> bool:
    from entitle.auth import count_api_keys
    from entitle.db.engine import Database

    database = Database(settings)
    try:
        return await count_api_keys(database) == 0
    finally:
        await database.dispose()


@contextmanager
def _exit_when_database_unavailable() -> Iterator[None]:
    """A database that is down (or goes away) ends the command with one line and exit code 1."""
    from entitle.db.health import unavailable_reason

    try:
        yield
    except Exception as exc:
        reason = unavailable_reason(exc)
        if reason is None:
            raise
        _say(f"error: the database is unavailable: {reason}", logging.ERROR)
        raise typer.Exit(1) from None


def _wait_for_database(settings: Settings) -> None:
    """Containers start in any order: retry until the database answers, for up to ENTITLE_DB_WAIT_S.

    One line per failed attempt, one line when giving up (exit code 1, no traceback). An error that
    is not an outage (bad password, unknown database) is not retried. SQLite is not waited for.
    """
    from entitle.db.engine import Database
    from entitle.db.health import unavailable_reason

    async def ping() -> None:
        database = Database(settings)
        try:
            await database.ping()
        finally:
            await database.dispose()
            if settings.is_sqlite:
                # aiosqlite stops a connection that failed to open without awaiting it: let its thread
                # finish while the loop is alive, or it prints a traceback (omnilib/aiosqlite#389).
                await asyncio.sleep(0.05)

    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            asyncio.run(ping())
        except Exception as exc:
            reason = unavailable_reason(exc)
            if reason is None:
                _say(f"error: cannot use the database: {_one_line(exc)}", logging.ERROR)
                raise typer.Exit(1) from None
            left = settings.entitle_db_wait_s - (time.monotonic() - started)
            if settings.is_sqlite or left <= 0:
                waited = time.monotonic() - started
                _say(
                    f"error: the database is unavailable ({reason}); gave up after {attempt} attempt(s) "
                    f"in {waited:.0f} s (ENTITLE_DB_WAIT_S={settings.entitle_db_wait_s:g})",
                    logging.ERROR,
                )
                raise typer.Exit(1) from None
            _say(
                f"waiting for the database ({reason}): attempt {attempt}, retrying for {left:.0f} s more",
                logging.WARNING,
            )
            time.sleep(min(1.0, left))
        else:
            if attempt > 1:
                _say(f"the database is up (after {time.monotonic() - started:.1f} s)")
            return


def _one_line(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's SQL and background-link suffixes."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0] if lines else ''}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo catalog first (idempotent).")] = False,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
) -> None:
    """Apply pending migrations, then serve /graphql (GraphiQL in a browser), /healthz and /readyz."""
    from entitle.metrics_dir import owned_multiproc_dir

    with owned_multiproc_dir():  # before anything imports prometheus_client (see entitle.metrics)
        _serve(host, port, workers, demo, access_log)


def _serve(host: str, port: int, workers: int, demo: bool, access_log: bool) -> None:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from entitle.db.migrations import upgrade_to_head
    from entitle.logs import configure_json_logging, uvicorn_log_config

    global _json_logs
    settings = Settings()
    _json_logs = settings.entitle_log_format == "json"
    if _json_logs:
        configure_json_logging()
    if settings.entitle_trusted_documents is not None:
        from entitle.graphql.persisted import TrustedDocumentsError, load_trusted_documents

        try:
            load_trusted_documents(settings.entitle_trusted_documents)
        except TrustedDocumentsError as error:
            _say(f"error: {error}", logging.ERROR)
            raise typer.Exit(1) from None
    _wait_for_database(settings)
    with _exit_when_database_unavailable():
        upgrade_to_head(settings.database_url)
        if _json_logs and not settings.entitle_bootstrap_api_key:
            # A key is a secret: never into JSON logs (they are collected and kept).
            if asyncio.run(_no_api_key(settings)):
                _say(
                    "no management API key exists: create one with `entitle create-api-key --name NAME` "
                    "or set ENTITLE_BOOTSTRAP_API_KEY",
                    logging.WARNING,
                )
        else:
            secret = asyncio.run(_first_start_key(settings))
            if secret is not None:
                _say(f"Created a management API key (shown once): {secret}")
        if demo:
            from entitle.services.demo import seed_demo

            _say(asyncio.run(seed_demo(settings)))
    _say(f"Entitle on http://{host}:{port}/graphql ({settings.database_url.split('://')[0]})")
    log_config = uvicorn_log_config(settings.entitle_log_format)
    uvicorn.run(
        "entitle.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=access_log and not _json_logs,
        log_level="info",
        log_config=log_config if log_config is not None else LOGGING_CONFIG,
        timeout_graceful_shutdown=5,
    )


@app.command()
def migrate() -> None:
    """Apply migrations (alembic upgrade head) to DATABASE_URL."""
    from entitle.db.migrations import upgrade_to_head

    settings = Settings()
    _wait_for_database(settings)
    with _exit_when_database_unavailable():
        upgrade_to_head(settings.database_url)
    typer.echo("database is at the latest migration", err=True)


@app.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL SDL (schema.graphql must equal it)."""
    from entitle.graphql.schema import build_schema

    sys.stdout.write(str(build_schema(Settings(entitle_introspection=True))) + "\n")


@app.command("seed-demo")
def seed_demo_command() -> None:
    """Load a small demo catalog, customers and entitlements (idempotent)."""
    from entitle.db.migrations import upgrade_to_head
    from entitle.services.demo import seed_demo

    settings = Settings()
    _wait_for_database(settings)
    with _exit_when_database_unavailable():
        upgrade_to_head(settings.database_url)
        typer.echo(asyncio.run(seed_demo(settings)))


@app.command("create-api-key")
def create_api_key_command(
    name: Annotated[str, typer.Option("--name", help="Who the key is for.")],
    read_only: Annotated[bool, typer.Option("--read-only", help="May not run mutations.")] = False,
) -> None:
    """Create a management API key and print its secret once."""
    from entitle.auth import create_api_key
    from entitle.db.engine import Database
    from entitle.db.migrations import upgrade_to_head

    settings = Settings()

    async def run() -> str:
        database = Database(settings)
        try:
            return await create_api_key(database, name, read_only=read_only)
        finally:
            await database.dispose()

    _wait_for_database(settings)
    with _exit_when_database_unavailable():
        upgrade_to_head(settings.database_url)
        typer.echo(asyncio.run(run()))
