"""Descriptions, allowed networks, last use from where, rotation grace, owners' state, reminders.

Every existing token keeps working: the new columns are empty (no description, any
network, never used from a known place, no old secret), every existing owner is active.

Revision ID: 0002
Revises: 0001
Create Date: 2027-01-18
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here, not imported from the models, which later revisions may change.


def _when(name: str, *, nullable: bool = True) -> sa.Column[datetime]:
    kind = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    for column in (
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("allowed_networks", sa.Text(), nullable=False, server_default=""),
        sa.Column("last_used_ip", sa.String(64), nullable=True),
        sa.Column("last_used_agent", sa.String(200), nullable=True),
        sa.Column("previous_digest", sa.String(64), nullable=True),
        _when("previous_valid_until"),
    ):
        op.add_column("tokenguard_tokens", column)
    op.create_index("ix_tokenguard_tokens_previous_digest", "tokenguard_tokens", ["previous_digest"])
    op.create_index("ix_tokenguard_tokens_expires_at", "tokenguard_tokens", ["expires_at"])
    op.create_index("ix_tokenguard_tokens_last_used_at", "tokenguard_tokens",
                    ["last_used_at", "created_at"])

    op.add_column("tokenguard_owners",
                  sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("tokenguard_owners", _when("deactivated_at"))
    op.add_column("tokenguard_owners", sa.Column("deactivated_by", sa.String(255), nullable=True))

    op.create_table(
        "tokenguard_reminders",
        sa.Column("token_id", sa.String(64), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False, autoincrement=False),
        _when("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("token_id", "threshold", name="pk_tokenguard_reminders"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )


def downgrade() -> None:
    op.drop_table("tokenguard_reminders")
    with op.batch_alter_table("tokenguard_owners") as owners:
        for name in ("deactivated_by", "deactivated_at", "active"):
            owners.drop_column(name)
    op.drop_index("ix_tokenguard_tokens_last_used_at", table_name="tokenguard_tokens")
    op.drop_index("ix_tokenguard_tokens_expires_at", table_name="tokenguard_tokens")
    op.drop_index("ix_tokenguard_tokens_previous_digest", table_name="tokenguard_tokens")
    with op.batch_alter_table("tokenguard_tokens") as tokens:
        for name in ("previous_valid_until", "previous_digest", "last_used_agent", "last_used_ip",
                     "allowed_networks", "description"):
            tokens.drop_column(name)
