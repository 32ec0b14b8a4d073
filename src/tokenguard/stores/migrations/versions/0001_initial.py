"""Tokens and the per-owner lock rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types and options of this revision are written out here, not imported from
# the models, which later revisions may change. MariaDB/MySQL: 4-byte UTF-8 and
# binary comparison (owners "alice" and "Alice" are different people).


def _when(name: str, *, nullable: bool = True) -> sa.Column[datetime]:
    kind = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    return sa.Column(name, kind, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tokenguard_tokens",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("projects", sa.Text(), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        _when("expires_at"),
        _when("last_used_at"),
        _when("revoked_at"),
        sa.Column("hint", sa.String(32), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tokenguard_tokens"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.create_index("ix_tokenguard_tokens_digest", "tokenguard_tokens", ["digest"], unique=True)
    op.create_index("ix_tokenguard_tokens_owner", "tokenguard_tokens", ["owner"])
    op.create_table(
        "tokenguard_owners",
        sa.Column("owner", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("owner", name="pk_tokenguard_owners"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )


def downgrade() -> None:
    op.drop_table("tokenguard_owners")
    op.drop_index("ix_tokenguard_tokens_owner", table_name="tokenguard_tokens")
    op.drop_index("ix_tokenguard_tokens_digest", table_name="tokenguard_tokens")
    op.drop_table("tokenguard_tokens")
