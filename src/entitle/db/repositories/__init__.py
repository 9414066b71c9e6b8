"""Repositories: every SQL statement of the use cases lives in this package.

One module per aggregate. Functions take a session (or connection) plus plain values and return
domain objects or small frozen read models, never SQLAlchemy rows.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

Session = AsyncSession
"""The transaction a use case got from ``Runtime.write()`` or ``Database.read()``."""

ResultRow: TypeAlias = "sa.Row[*tuple[Any, ...]]"
"""A result row of any shape: SQLAlchemy types the columns of a whole-table ``select`` as ``Any``.
Only repositories see one: the ``of(row)`` constructors turn it into a typed record."""
