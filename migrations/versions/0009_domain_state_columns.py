"""Domain state out of the audit trail: an owner link keeps the answer given through it (answer, answered_at),
and an assignment counts its reminders (reminder_count), so the service no longer reads audit rows to decide.

Both are filled from the audit rows written so far ("owner_link.answer", "assignment.remind"), which are only
read: the trail is append-only (0007). Audit rows name their entity by a string id, so the ids are compared as
strings (the integer id cast to text), on both backends alike.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-15 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: models/owner_link.py LinkAnswer, by value.
LINK_ANSWERS = ("consent", "decline", "report_no_footage", "sign", "renew", "revoke")

audit_events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("action", sa.String),
    sa.column("entity_type", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("to_state", sa.String),
)
owner_links = sa.table(
    "owner_links",
    sa.column("id", sa.Integer),
    sa.column("answer", sa.String),
    sa.column("answered_at", sa.DateTime(timezone=True)),
)
assignments = sa.table("assignments", sa.column("id", sa.Integer), sa.column("reminder_count", sa.Integer))


# Plain ALTER TABLE, not batch mode (see 0005). The answer's CHECK is written in the column itself: SQLite
# cannot add a constraint to a table, and PostgreSQL takes the same statement.
def upgrade() -> None:
    allowed = ", ".join(f"'{value}'" for value in LINK_ANSWERS)
    op.execute(
        "ALTER TABLE owner_links ADD COLUMN answer VARCHAR(17) "
        f"CONSTRAINT ck_owner_links_linkanswer CHECK (answer IN ({allowed}))"
    )
    op.add_column("owner_links", sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("assignments", sa.Column("reminder_count", sa.Integer(), server_default="0", nullable=False))
    _fill_link_answers()
    _fill_reminder_counts()


def _entries_of(audit, row_id, action: str, entity_type: str):
    """Audit rows (of the alias `audit`) of `action` on the entity whose integer id is `row_id`."""
    return sa.and_(
        audit.c.action == action,
        audit.c.entity_type == entity_type,
        audit.c.entity_id == sa.cast(row_id, sa.String(64)),
    )


def _fill_link_answers() -> None:
    """Each link's last recorded answer (the one the service showed), and when it was given."""
    answers = audit_events.alias("answers")
    of_link = sa.and_(
        _entries_of(answers, owner_links.c.id, "owner_link.answer", "owner_link"),
        answers.c.to_state.in_(LINK_ANSWERS),  # what the CHECK takes: every answer the service ever wrote
    )
    last = sa.select(sa.func.max(answers.c.id)).where(of_link).correlate(owner_links).scalar_subquery()
    chosen = audit_events.alias("chosen")
    op.execute(
        owner_links.update()
        .where(sa.exists().where(of_link))
        .values(
            answer=sa.select(chosen.c.to_state).where(chosen.c.id == last).scalar_subquery(),
            answered_at=sa.select(chosen.c.occurred_at).where(chosen.c.id == last).scalar_subquery(),
        )
    )


def _fill_reminder_counts() -> None:
    reminders = audit_events.alias("reminders")
    sent = sa.select(sa.func.count(reminders.c.id)).where(
        _entries_of(reminders, assignments.c.id, "assignment.remind", "assignment")
    )
    op.execute(assignments.update().values(reminder_count=sent.scalar_subquery()))


def downgrade() -> None:
    # The audit rows the columns were filled from are still there; a later upgrade fills them again.
    op.drop_column("assignments", "reminder_count")
    op.drop_column("owner_links", "answered_at")
    op.drop_column("owner_links", "answer")
