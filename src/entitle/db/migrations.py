"""Run alembic from code (``entitle migrate``, ``entitle serve``, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def migrations_dir() -> Path:
    """``migrations/`` beside the package when installed from a wheel, else the repository's."""
    packaged = Path(__file__).resolve().parents[1] / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade_to_head(database_url: str) -> None:
    """Apply pending migrations; safe to call on an up-to-date database. Must not run inside an event loop."""
    command.upgrade(alembic_config(database_url), "head")
