"""signal watch: until when the signals tick evaluates an agent every round.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

Owned by the signals part of the design (src/spendwarden/signals/engine.py,
``watch_until``). The detectors write the column with the agent's state; the tick reads it
to split agents into those it must evaluate every round and idle ones it evaluates on a
slower cadence. Existing rows get NULL, which the tick treats as before this revision
(every round while the state row changed in the last day) until the agent's next event.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signal_watch_until", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent_state", schema=None) as batch_op:
        batch_op.drop_column("signal_watch_until")
