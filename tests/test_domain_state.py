"""Domain state lives in its own columns, not in the audit trail, and the state sets are read off the tables.

- An owner link keeps the answer given through it, an assignment its reminder count: the services write them
  beside the audit row (the history) and decide from them.
- Revision 0009 adds those columns and fills them from the audit rows a database already has.
- The state sets the services use are derived from the transition tables, and equal what they listed before.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from geoalchemy2 import Geometry
from geoalchemy2.shape import from_shape
from notify_support import audited, routed_request, run
from owner_support import NOW, assignment_link, commitment_link, routed_assignment
from shapely import Point
from sqlalchemy import select, update

from camera_registry import migrate
from camera_registry.db import make_engine
from camera_registry.models import (
    AWAITING_ANSWER,
    FINAL_ASSIGNMENT_STATES,
    FINAL_REQUEST_STATES,
    LIVE_REQUEST_STATES,
    OPEN_ASSIGNMENT_STATES,
    OUTCOME_STATES,
    OWNER_ANSWERS,
    UNANSWERED,
    Assignment,
    AssignmentStatus,
    LinkAnswer,
    RequestStatus,
)
from camera_registry.models.base import UtcDateTime
from camera_registry.services import owner_answers
from camera_registry.services.deadlines import remind_unanswered
from camera_registry.services.owner_answers import PageState

R, A = RequestStatus, AssignmentStatus
HOUR = timedelta(hours=1)

# --------------------------------------------------------------------------- the state sets


def test_the_derived_state_sets_are_those_the_services_listed_before():
    assert {R.RESOLVED, R.CANCELLED, R.EXPIRED} == FINAL_REQUEST_STATES
    assert {R.OPEN, R.ROUTED, R.IN_PROGRESS} == LIVE_REQUEST_STATES
    assert set(UNANSWERED) == {A.PENDING, A.NOTIFIED, A.VIEWED}
    assert {A.NOTIFIED, A.VIEWED} == AWAITING_ANSWER
    assert {A.PENDING, A.NOTIFIED, A.VIEWED, A.CONSENTED} == OPEN_ASSIGNMENT_STATES
    assert {A.DECLINED, A.NO_FOOTAGE, A.FOOTAGE_RECEIVED, A.CLOSED, A.EXPIRED} == FINAL_ASSIGNMENT_STATES
    assert {
        "footage_received": {A.FOOTAGE_RECEIVED, A.CLOSED},
        "declined": {A.DECLINED},
        "no_footage": {A.NO_FOOTAGE},
        "expired": {A.EXPIRED},
    } == OUTCOME_STATES
    assert tuple(OWNER_ANSWERS) == owner_answers.ASSIGNMENT_ANSWERS == ("consent", "decline", "report_no_footage")


def test_each_final_assignment_state_counts_in_exactly_one_outcome():
    counted = [state for states in OUTCOME_STATES.values() for state in states]
    assert len(counted) == len(set(counted)) and set(counted) == FINAL_ASSIGNMENT_STATES


def test_every_answer_a_link_takes_can_be_stored_on_it():
    answers = {answer.value for answer in LinkAnswer}
    assert answers == set(owner_answers.ASSIGNMENT_ANSWERS + owner_answers.COMMITMENT_ANSWERS)
    assert set(migrate.script_directory().get_revision("0009").module.LINK_ANSWERS) == answers


# --------------------------------------------------------------------------- the services keep the columns


def test_an_answer_through_a_link_is_kept_on_the_link(session, world):
    token = assignment_link(session, routed_assignment(session, world))
    page = owner_answers.answer(session, token, "decline", now=NOW)
    assert (page.link.answer, page.link.answered_at) == (LinkAnswer.DECLINE, NOW)
    assert audited(session, owner_answers.LINK_ANSWERED) == 1  # and the audit trail still tells it

    token, _ = commitment_link(session, world)
    page = owner_answers.answer(session, token, "renew", now=NOW)
    assert (page.link.answer, page.link.answered_at) == (LinkAnswer.RENEW, NOW)


def test_a_used_commitment_link_shows_the_answer_the_link_keeps(session, world):
    token, _ = commitment_link(session, world)
    link = owner_answers.open_link(session, token).link
    link.used_at, link.answer, link.answered_at = NOW, LinkAnswer.REVOKE, NOW  # no audit row says so
    session.flush()
    page = owner_answers.open_link(session, token)
    assert page.state == PageState.ANSWERED and page.answer.action == "revoke"


@pytest.fixture()
def settings(notification_settings):
    return replace(notification_settings, reminder_hours=24, max_reminders=2)


def test_reminders_are_counted_on_the_assignment(world, session, settings):
    [assignment] = routed_request(session, now=NOW).assignments
    assert run(remind_unanswered, session, settings, NOW + 24 * HOUR) == {"reminded": 1}
    assert (assignment.reminder_count, assignment.last_reminded_at) == (1, NOW + 24 * HOUR)
    assert run(remind_unanswered, session, settings, NOW + 48 * HOUR) == {"reminded": 1}
    assert (assignment.reminder_count, assignment.last_reminded_at) == (2, NOW + 48 * HOUR)


def test_the_reminder_count_not_the_audit_trail_stops_the_reminders(world, session, settings):
    [assignment] = routed_request(session, now=NOW).assignments
    session.execute(update(Assignment).where(Assignment.id == assignment.id).values(reminder_count=2))
    assert run(remind_unanswered, session, settings, NOW + 24 * HOUR) == {}
    assert audited(session, "assignment.remind") == 0


# --------------------------------------------------------------------------- revision 0009 fills the columns

AT = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)

# The tables as revision 0008 has them, with the columns these rows need.
admin_units = sa.table("admin_units", *(sa.column(name) for name in ("id", "code", "name", "level")))
owners = sa.table("owners", *(sa.column(name) for name in ("id", "external_id", "kind", "name")))
footage_requests = sa.table(
    "footage_requests",
    *(sa.column(name) for name in ("id", "commune_id", "case_ref", "reason", "legal_basis", "radius_m", "status")),
    *(sa.column(name) for name in ("version", "lenses_considered", "lenses_routed")),
    sa.column("lenses_skipped", sa.JSON),
    sa.column("incident", Geometry("GEOMETRY", srid=4326)),
    *(sa.column(name, UtcDateTime) for name in ("window_start", "window_end", "created_at")),
)
assignments = sa.table(
    "assignments",
    *(sa.column(name) for name in ("id", "request_id", "owner_id", "rank", "status", "version", "distance_m")),
    sa.column("covered_by_commitment", sa.Boolean),
    sa.column("preservation_deadline", UtcDateTime),
)
owner_links = sa.table(
    "owner_links",
    *(sa.column(name) for name in ("id", "token_hash", "purpose", "owner_id", "assignment_id")),
    *(sa.column(name, UtcDateTime) for name in ("created_at", "expires_at")),
)
audit_events = sa.table(
    "audit_events",
    *(sa.column(name) for name in ("actor_label", "action", "entity_type", "entity_id", "to_state")),
    sa.column("occurred_at", UtcDateTime),
    sa.column("details", sa.JSON),
)
filled_links = sa.table("owner_links", sa.column("id"), sa.column("answer"), sa.column("answered_at", UtcDateTime))
filled_assignments = sa.table("assignments", sa.column("id"), sa.column("reminder_count"))


@pytest.fixture()
def at_0008(database_server):
    url = database_server.new_database("domain_state")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, "0008")
        yield engine
    finally:
        engine.dispose()
        database_server.drop_database(url)


def _history_before_0009(connection) -> None:
    """Assignments 1, 2 and 11, reminded twice, never and once; links 1 and 11 answered, 2 not.

    Ids 1 and 11 share a prefix, and an audit row of another entity type carries id "1": only the exact
    entity, by its string id, counts.
    """
    connection.execute(sa.insert(admin_units).values(id=1, code="A", name="Xã A", level="commune"))
    connection.execute(sa.insert(owners).values(id=1, external_id="owner-a", kind="household", name="Owner A"))
    connection.execute(
        sa.insert(footage_requests).values(
            id=1,
            commune_id=1,
            case_ref="VV-1",
            reason="Cướp giật",
            legal_basis="Điều 145 BLTTHS",
            radius_m=150.0,
            status="in_progress",
            version=1,
            lenses_considered=3,
            lenses_routed=3,
            lenses_skipped={},
            incident=from_shape(Point(105.82, 21.02), srid=4326),
            window_start=AT - 3 * HOUR,
            window_end=AT - 2 * HOUR,
            created_at=AT - HOUR,
        )
    )
    for rank, assignment_id in enumerate((1, 2, 11), start=1):
        connection.execute(
            sa.insert(assignments).values(
                id=assignment_id,
                request_id=1,
                owner_id=1,
                rank=rank,
                status="notified",
                version=1,
                distance_m=10.0,
                covered_by_commitment=True,
                preservation_deadline=AT + timedelta(days=10),
            )
        )
        connection.execute(
            sa.insert(owner_links).values(
                id=assignment_id,
                token_hash=f"{assignment_id:064d}",
                purpose="assignment",
                owner_id=1,
                assignment_id=assignment_id,
                created_at=AT,
                expires_at=AT + timedelta(days=10),
            )
        )

    def audit(action, entity_type, entity_id, to_state, at, **details):
        connection.execute(
            sa.insert(audit_events).values(
                actor_label="system",
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                to_state=to_state,
                occurred_at=at,
                details=details,
            )
        )

    audit("assignment.remind", "assignment", "1", "notified", AT + 24 * HOUR, reminder=1)
    audit("assignment.remind", "assignment", "11", "notified", AT + 25 * HOUR, reminder=1)
    audit("assignment.remind", "assignment", "1", "notified", AT + 48 * HOUR, reminder=2)
    audit("request.route", "request", "1", "routed", AT + 48 * HOUR)
    audit("owner_link.answer", "owner_link", "1", "decline", AT + 50 * HOUR, handover=None, reason=None)
    audit("owner_link.answer", "owner_link", "11", "consent", AT + 51 * HOUR, handover="owner_upload", reason=None)


def _filled(engine) -> tuple[dict, dict]:
    with engine.connect() as connection:
        links = {row.id: (row.answer, row.answered_at) for row in connection.execute(select(filled_links))}
        counts = dict(connection.execute(select(filled_assignments.c.id, filled_assignments.c.reminder_count)).all())
    return links, counts


def test_0009_fills_answers_and_reminder_counts_from_the_audit_trail(at_0008):
    with at_0008.begin() as connection:
        _history_before_0009(connection)
    migrate.upgrade(at_0008, "0009")
    at_0008.dispose()  # SQLite caches the schema per connection

    links, counts = _filled(at_0008)
    assert links == {1: ("decline", AT + 50 * HOUR), 2: (None, None), 11: ("consent", AT + 51 * HOUR)}
    assert counts == {1: 2, 2: 0, 11: 1}
    with pytest.raises(sa.exc.IntegrityError), at_0008.begin() as connection:
        connection.execute(update(filled_links).where(filled_links.c.id == 2).values(answer="maybe"))


def test_0009_downgrades_and_upgrades_again(at_0008):
    with at_0008.begin() as connection:
        _history_before_0009(connection)
    migrate.upgrade(at_0008)
    migrate.downgrade(at_0008, "0008")
    at_0008.dispose()
    inspector = sa.inspect(at_0008)
    assert {"answer", "answered_at"}.isdisjoint(column["name"] for column in inspector.get_columns("owner_links"))
    assert "reminder_count" not in {column["name"] for column in inspector.get_columns("assignments")}

    migrate.upgrade(at_0008)
    at_0008.dispose()
    links, counts = _filled(at_0008)
    assert links[1] == ("decline", AT + 50 * HOUR) and counts == {1: 2, 2: 0, 11: 1}
