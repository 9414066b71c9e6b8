"""scheduled changes go by marks on the rows, not by a window of instants

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:30:00

ENTITLEMENT_STARTED / _EXPIRED and USAGE_PERIOD_RESET used to be appended for the rows whose instant
fell inside the scheduler's window ``(cursor, now]``. A write that read the clock before an instant
but committed after a run had passed it (it waited for the lock, or was slow) was never announced.
Now a grant carries ``start_pending`` / ``expiry_pending`` (1 until the scheduler takes it) and a
usage counter ``reset_appended`` (0 until its period's end is dealt with); a run takes every marked
row whose instant has come, whenever it was committed.

Existing rows: what the old window had not reached yet (instants after the cursor, or after now if
the schedule never ran) is marked to come; the rest was dealt with by the window.
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

_INSTANT = entitle.db.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_pending", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("expiry_pending", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(
            "ix_entitlements_start_pending",
            ["start_date"],
            unique=False,
            sqlite_where=sa.text("start_pending = 1"),
            postgresql_where=sa.text("start_pending = 1"),
        )
        batch_op.create_index(
            "ix_entitlements_expiry_pending",
            ["expiration_date"],
            unique=False,
            sqlite_where=sa.text("expiry_pending = 1"),
            postgresql_where=sa.text("expiry_pending = 1"),
        )
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

    cursor = sa.table("schedule_cursor", sa.column("name", sa.String()), sa.column("until", _INSTANT))
    until = op.get_bind().scalar(sa.select(cursor.c.until).where(cursor.c.name == "entitlements"))
    reached = until or datetime.now(UTC)
    grants = sa.table(
        "entitlements",
        sa.column("start_date", _INSTANT),
        sa.column("expiration_date", _INSTANT),
        sa.column("created_at", _INSTANT),
        sa.column("start_pending", sa.Integer()),
        sa.column("expiry_pending", sa.Integer()),
    )
    op.execute(
        grants.update()
        .where(grants.c.start_date > reached, grants.c.start_date > grants.c.created_at)
        .values(start_pending=1)
    )
    op.execute(grants.update().where(grants.c.expiration_date > reached).values(expiry_pending=1))
    counters = sa.table(
        "usage_counters", sa.column("period_end", _INSTANT), sa.column("reset_appended", sa.Integer())
    )
    op.execute(
        counters.update()
        .where(sa.or_(counters.c.period_end.is_(None), counters.c.period_end <= reached))
        .values(reset_appended=1)
    )


def downgrade() -> None:
    with op.batch_alter_table("usage_counters", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_counters_reset_pending")
        batch_op.create_index("ix_usage_counters_period_end", ["period_end"], unique=False)
        batch_op.drop_column("reset_appended")
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.drop_index("ix_entitlements_expiry_pending")
        batch_op.drop_index("ix_entitlements_start_pending")
        batch_op.drop_column("expiry_pending")
        batch_op.drop_column("start_pending")
