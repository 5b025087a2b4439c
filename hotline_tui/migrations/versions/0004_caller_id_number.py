"""caller ID number

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00

The caller's resident ID number (居民身份证号码), recorded only when the matter needs it (social
insurance, housing fund...). Masked like the other caller data (T24 19, 27).
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.add_column(sa.Column('caller_id_number', sa.String(length=18), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.drop_column('caller_id_number')
