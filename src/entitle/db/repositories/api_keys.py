"""Management API keys, stored as the SHA-256 of their secret."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from entitle.db.engine import Database
from entitle.db.tables import API_KEYS, ApiKeyRow


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    name: str
    read_only: bool


async def add_if_absent(database: Database, name: str, key_hash: str, *, read_only: bool) -> None:
    """Store a key in its own transaction unless one with this hash exists (then nothing changes)."""
    async with database.write() as session:
        exists = await session.scalar(sa.select(API_KEYS.c.id).where(API_KEYS.c.key_hash == key_hash))
        if exists is None:
            row = ApiKeyRow(name=name, key_hash=key_hash, read_only=read_only)
            await session.execute(sa.insert(API_KEYS).values(**row.model_dump(exclude={"id"})))


async def by_hash(database: Database, key_hash: str) -> ApiKeyRecord | None:
    async with database.read() as session:
        row = (
            await session.execute(
                sa.select(API_KEYS.c.name, API_KEYS.c.read_only).where(API_KEYS.c.key_hash == key_hash)
            )
        ).first()
    return None if row is None else ApiKeyRecord(name=row.name, read_only=bool(row.read_only))


async def count(database: Database) -> int:
    async with database.read() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(API_KEYS)) or 0)
