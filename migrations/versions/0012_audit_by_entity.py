"""Read the audit trail by record: a request's timeline and the admins' contact-reads page look events up by
entity type and id, which scanned the whole trail.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 16:00:00
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_entity", "audit_events", ["entity_type", "entity_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_events_entity", table_name="audit_events")
