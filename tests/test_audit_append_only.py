"""The audit trail is append-only in the database itself (migration 0007), not only in the ORM:
raw SQL that would change or remove an audit event is refused on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from camera_registry.models import AuditEvent


@pytest.fixture()
def audit_row(db_connection) -> int:
    return db_connection.execute(
        text(
            "INSERT INTO audit_events (occurred_at, actor_label, action, entity_type, entity_id, note) "
            "VALUES (CURRENT_TIMESTAMP, 'system', 'lens.create', 'lens', '1', 'as it happened') RETURNING id"
        )
    ).scalar_one()


def _refused(db_connection, statement: str, **values) -> str:
    savepoint = db_connection.begin_nested()
    with pytest.raises(DBAPIError) as refused:
        db_connection.execute(text(statement), values)
    savepoint.rollback()
    return str(refused.value.orig)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET note = 'rewritten' WHERE id = :id",
        "UPDATE audit_events SET actor_label = 'someone else'",
        "DELETE FROM audit_events WHERE id = :id",
        "DELETE FROM audit_events",
    ],
)
def test_raw_sql_cannot_rewrite_the_audit_trail(db_connection, audit_row, statement):
    reason = _refused(db_connection, statement, id=audit_row)
    assert "append-only" in reason
    row = db_connection.execute(
        text("SELECT note, actor_label FROM audit_events WHERE id = :id"), {"id": audit_row}
    ).one()
    assert tuple(row) == ("as it happened", "system")


def test_the_trail_can_still_grow(db_connection, audit_row):
    db_connection.execute(
        AuditEvent.__table__.insert().values(
            action="lens.update", entity_type="lens", entity_id="1", actor_label="system"
        )
    )
    count = db_connection.execute(
        text("SELECT count(*) FROM audit_events WHERE entity_type = 'lens' AND entity_id = '1'")
    ).scalar_one()
    assert count >= 2


def test_truncate_is_refused_on_postgresql(db_connection, audit_row, backend):
    if backend != "postgis":
        pytest.skip("SQLite has no TRUNCATE; its DELETE without WHERE is refused above")
    assert "append-only" in _refused(db_connection, "TRUNCATE audit_events")
