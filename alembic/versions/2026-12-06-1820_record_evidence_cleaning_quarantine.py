"""Evidence files are cleaned: images re-encoded without their metadata, PDFs with active
content quarantined. Each evidence row records when it was cleaned (null: stored before, still
to be cleaned by the one-off job), the hash it had before cleaning replaced its file (which the
archive hash chain keeps covering), and whether and why it is quarantined.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('record_evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cleaned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('original_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('quarantine_reason', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_record_evidence_cleaned_at', ['cleaned_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('record_evidence', schema=None) as batch_op:
        batch_op.drop_index('ix_record_evidence_cleaned_at')
        batch_op.drop_column('quarantine_reason')
        batch_op.drop_column('quarantined_at')
        batch_op.drop_column('original_sha256')
        batch_op.drop_column('cleaned_at')
