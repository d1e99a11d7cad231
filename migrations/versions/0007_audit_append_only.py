"""The audit trail is append-only in the database itself: triggers refuse every UPDATE and DELETE of
audit_events (and TRUNCATE on PostgreSQL), so raw SQL cannot rewrite history either. The ORM refuses
them too (models/audit.py); no code of the service changes or removes an audit row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 09:00:00
"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

MESSAGE = 'audit_events is append-only: audit events cannot be changed or deleted'


# Plain op.execute, not batch mode: a batch rebuild of a SpatiaLite table breaks it (see 0005).
def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END
            $$""")
        op.execute("CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events "
                   "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()")
        op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()")
    else:
        for verb in ('update', 'delete'):
            op.execute(f"CREATE TRIGGER audit_events_no_{verb} BEFORE {verb.upper()} ON audit_events "
                       f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_no_update_or_delete ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        for verb in ('update', 'delete'):
            op.execute(f"DROP TRIGGER audit_events_no_{verb}")
