"""assignment index for a unit's finished orders

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 21:00:00

The unit inbox lists its 已办结 and 已退回 orders newest first. Without an index on (unit, status,
closed_at) SQLite read every finished order of the unit and its ticket and sorted them: 163 ms for a
department with 53,000 orders, over 500 ms for a district, measured by benchmarks/inbox_list.py at 1M
tickets.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_unit_status_closed', ['unit_id', 'status', 'closed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_assignment_unit_status_closed')
