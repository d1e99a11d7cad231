"""The audit trail is append-only in the database itself: triggers refuse every UPDATE and DELETE of
audit_events (and TRUNCATE on PostgreSQL), so raw SQL cannot rewrite history either. The ORM refuses
them too (models/audit.py); no code of the service changes or removes an audit row.

And no usable owner link stays in the outbox: messages are now queued with a placeholder and the link is
minted when they are sent (services/notifications.py). Messages written before carry their raw link: a
waiting one gets the placeholder (it will be sent with a fresh link), a settled one loses its link.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 09:00:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MESSAGE = "audit_events is append-only: audit events cannot be changed or deleted"
TOKEN_SLOT = "{owner-link-token}"  # services/notifications.py
LINK_FORGOTTEN = "[liên kết đã gửi, không lưu]"


# Plain op.execute, not batch mode: a batch rebuild of a SpatiaLite table breaks it (see 0005).
def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END
            $$""")
        op.execute(
            "CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        for verb in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb} BEFORE {verb.upper()} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    _scrub_owner_links()


def _scrub_owner_links() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, status, body, payload FROM outbox_messages WHERE body LIKE '%/o/%'")).all()
    for message_id, status, body, payload in rows:
        payload = json.loads(payload) if isinstance(payload, str) else dict(payload or {})
        link = payload.get("link")
        if not isinstance(link, str) or "/o/" not in link or TOKEN_SLOT in link:
            continue
        if status == "pending":
            placeholder = f"{link.rsplit('/o/', 1)[0]}/o/{TOKEN_SLOT}"
            body, payload["link"] = body.replace(link, placeholder), placeholder
        else:
            body = body.replace(link, LINK_FORGOTTEN)
            del payload["link"]
        value = "CAST(:payload AS json)" if bind.dialect.name == "postgresql" else ":payload"
        bind.execute(
            sa.text(f"UPDATE outbox_messages SET body = :body, payload = {value} WHERE id = :id"),
            {"body": body, "payload": json.dumps(payload, ensure_ascii=False), "id": message_id},
        )


def downgrade() -> None:
    # The outbox keeps its placeholders: the raw links they replaced are gone for good, as intended.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_no_update_or_delete ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_events_no_{verb}")
