"""usage counters remember whether their period's reset was appended

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:30:00

USAGE_PERIOD_RESET used to be appended for the counters whose period ended inside the scheduler's
window. A usage write that read the clock before a period's end but committed after the window had
passed it (a write waiting for the lock, a slow transaction) created its counter too late and the
reset was never appended. Each counter now says whether its reset was dealt with, and every run
takes the pending ones that have ended, whenever they committed.

Counters whose period ended up to the scheduler's cursor (or, if it never ran, up to now) were
dealt with by the window as it was: they are marked done.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import entitle.db.tables

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_counters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reset_appended", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_index("ix_usage_counters_period_end")
        batch_op.create_index(
            "ix_usage_counters_reset_pending",
            ["period_end"],
            unique=False,
            sqlite_where=sa.text("reset_appended = 0"),
            postgresql_where=sa.text("reset_appended = 0"),
        )
    counters = sa.table(
        "usage_counters",
        sa.column("period_end", entitle.db.tables.UTCDateTime(timezone=True)),
        sa.column("reset_appended", sa.Integer()),
    )
    cursor = sa.table(
        "schedule_cursor",
        sa.column("name", sa.String()),
        sa.column("until", entitle.db.tables.UTCDateTime(timezone=True)),
    )
    bind = op.get_bind()
    until = bind.scalar(sa.select(cursor.c.until).where(cursor.c.name == "entitlements"))
    op.execute(
        counters.update()
        .where(sa.or_(counters.c.period_end.is_(None), counters.c.period_end <= (until or datetime.now(UTC))))
        .values(reset_appended=1)
    )


def downgrade() -> None:
    with op.batch_alter_table("usage_counters", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_counters_reset_pending")
        batch_op.create_index("ix_usage_counters_period_end", ["period_end"], unique=False)
        batch_op.drop_column("reset_appended")
