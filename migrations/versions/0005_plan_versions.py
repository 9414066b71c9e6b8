"""plan versions, auto-assign and rank; entitlements keep their plan version and period anchor

Existing plans become version 1 (their feature values are version 1's); existing plan entitlements
point at it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:20:00.000000
"""

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import op

import entitle.db.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@contextlib.contextmanager
def _new_primary_key_on_sqlite() -> Iterator[None]:
    """SQLite's batch copy warns that the copied table's primary key differs: that is the point."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Table '_alembic_tmp_plan_features' specifies columns")
        yield


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", entitle.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id", "version"),
    )
    op.execute("INSERT INTO plan_versions (plan_id, version, created_at) SELECT id, 1, created_at FROM plans")

    # Server defaults fill the existing rows, then go: the models have none.
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("auto_assign", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("rank", sa.Integer(), nullable=True))
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.alter_column("version", server_default=None)
        batch_op.alter_column("auto_assign", server_default=None)

    with (
        _new_primary_key_on_sqlite(),
        op.batch_alter_table(
            "plan_features", schema=None, recreate="always" if sqlite else "auto"
        ) as batch_op,
    ):
        batch_op.add_column(
            sa.Column("version", sa.Integer(), autoincrement=False, nullable=False, server_default="1")
        )
        if not sqlite:
            batch_op.drop_constraint("plan_features_pkey", type_="primary")
        batch_op.create_primary_key("plan_features_pkey", ["plan_id", "version", "feature_id"])
    with op.batch_alter_table("plan_features", schema=None) as batch_op:
        batch_op.alter_column("version", server_default=None)

    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_version", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("period_anchor", entitle.db.tables.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE entitlements SET plan_version = 1 WHERE plan_id IS NOT NULL")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.drop_column("period_anchor")
        batch_op.drop_column("plan_version")
    # Only each plan's current version survives a downgrade.
    op.execute(
        "DELETE FROM plan_features WHERE version <> "
        "(SELECT plans.version FROM plans WHERE plans.id = plan_features.plan_id)"
    )
    with (
        _new_primary_key_on_sqlite(),
        op.batch_alter_table(
            "plan_features", schema=None, recreate="always" if sqlite else "auto"
        ) as batch_op,
    ):
        if not sqlite:
            batch_op.drop_constraint("plan_features_pkey", type_="primary")
        batch_op.create_primary_key("plan_features_pkey", ["plan_id", "feature_id"])
        batch_op.drop_column("version")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("rank")
        batch_op.drop_column("auto_assign")
        batch_op.drop_column("version")
    op.drop_table("plan_versions")
