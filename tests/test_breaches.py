"""Personal data breach records (issue 17 item 5): the record, its transitions, the 72-hour clock, the admin
page and the export for the report to A05."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from camera_registry.models import (
    AuditEvent,
    Breach,
    BreachDataCategory,
    BreachStatus,
    BreachTransitionRefused,
    Owner,
    User,
    breach_transition,
)
from camera_registry.services import breaches
from camera_registry.services.access import actor_for
from camera_registry.services.errors import PermissionDenied, ValidationFailed
from camera_registry.services.workflow import IllegalTransition

DISCOVERED = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def test_a_breach_record_keeps_whose_data_and_moves_open_notified_closed(session, world):
    admin = session.scalar(select(User).where(User.username == "admin"))
    owner = session.get(Owner, world.objects["a"]["owner"])
    breach = Breach(
        description="Laptop with an export of commune A's register stolen",
        discovered_at=DISCOVERED,
        recorded_by=admin,
        data_categories=[BreachDataCategory.OWNER_CONTACTS.value],
        affected_count=1,
        owners=[owner],
    )
    session.add(breach)
    session.flush()
    session.expire_all()

    stored = session.get(Breach, breach.id)
    assert stored.status is BreachStatus.OPEN
    assert stored.discovered_at == DISCOVERED
    assert [o.id for o in stored.owners] == [owner.id]
    assert stored.data_categories == ["owner_contacts"]
    assert breach_transition(BreachStatus.OPEN, "notify") is BreachStatus.NOTIFIED
    assert breach_transition(BreachStatus.NOTIFIED, "close") is BreachStatus.CLOSED
    with pytest.raises(BreachTransitionRefused):
        breach_transition(BreachStatus.OPEN, "close")
    with pytest.raises(BreachTransitionRefused):
        breach_transition(BreachStatus.CLOSED, "update")


# --- the service, with a fixed clock ---------------------------------------------------------------------------

FACTS = {
    "description": "Laptop with an export of commune A's register stolen",
    "discovered_at": DISCOVERED,
    "occurred_at": DISCOVERED - timedelta(hours=5),
    "data_categories": ["owner_contacts", "camera_locations"],
    "owners": ["owner-a"],
    "affected_count": 40,
}


def actor_of(session, username: str = "admin"):
    return actor_for(session, session.scalar(select(User).where(User.username == username)))


def test_the_72_hour_clock_runs_from_discovery_and_is_overdue_after_it(session, world):
    breach = breaches.record_breach(session, actor_of(session), FACTS, now=DISCOVERED + timedelta(hours=1))

    running = breaches.notification_clock(breach, DISCOVERED + timedelta(hours=70))
    assert running.deadline == DISCOVERED + timedelta(hours=72)
    assert running.state is breaches.ClockState.RUNNING and running.left == timedelta(hours=2)
    overdue = breaches.notification_clock(breach, DISCOVERED + timedelta(hours=75))
    assert overdue.state is breaches.ClockState.OVERDUE and overdue.left == -timedelta(hours=3) and overdue.late


def test_recording_notifying_and_closing_are_audited_and_follow_the_table(session, world):
    admin = actor_of(session)
    breach = breaches.record_breach(session, admin, FACTS, now=DISCOVERED + timedelta(hours=1))
    assert breach.status is BreachStatus.OPEN and [o.external_id for o in breach.owners] == ["owner-a"]
    assert breach.recorded_by_id == admin.user_id

    with pytest.raises(ValidationFailed) as refused:
        breaches.close_breach(session, admin, breach.id, expected_version=None, now=DISCOVERED + timedelta(hours=2))
    assert set(refused.value.errors) == {"measures"}
    breaches.update_breach(
        session,
        admin,
        breach.id,
        {**FACTS, "measures": "Passwords changed", "owners": [], "affected_description": "Owners of commune A"},
        expected_version=breach.version,
        now=DISCOVERED + timedelta(hours=3),
    )
    assert breach.owners == [] and breach.measures.startswith("Passwords") and breach.version == 2
    with pytest.raises(IllegalTransition):  # not notified yet
        breaches.close_breach(session, admin, breach.id, expected_version=None, now=DISCOVERED + timedelta(hours=3))
    breaches.mark_notified(
        session,
        admin,
        breach.id,
        notified_at=DISCOVERED + timedelta(hours=30),
        reference="CV 12/CAX",
        late_reason=None,
        expected_version=2,
        now=DISCOVERED + timedelta(hours=31),
    )
    clock = breaches.notification_clock(breach, DISCOVERED + timedelta(hours=500))
    assert clock.state is breaches.ClockState.NOTIFIED_IN_TIME and clock.left == timedelta(hours=42)
    breaches.close_breach(session, admin, breach.id, expected_version=3, now=DISCOVERED + timedelta(days=9))
    assert breach.status is BreachStatus.CLOSED and breach.closed_at == DISCOVERED + timedelta(days=9)
    with pytest.raises(IllegalTransition):
        breaches.update_breach(session, admin, breach.id, FACTS, expected_version=None, now=DISCOVERED)

    trail = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "breach", AuditEvent.entity_id == str(breach.id))
    ).all()
    assert [event.action for event in trail] == ["breach.record", "breach.update", "breach.notify", "breach.close"]
    assert trail[0].details["owner_ids"] == [world.objects["a"]["owner"]]


def test_a_notification_after_72_hours_needs_the_reason_it_is_late(session, world):
    admin = actor_of(session)
    breach = breaches.record_breach(session, admin, FACTS, now=DISCOVERED)
    late = DISCOVERED + timedelta(hours=80)
    with pytest.raises(ValidationFailed) as refused:
        breaches.mark_notified(
            session, admin, breach.id, notified_at=late, reference="", late_reason=" ", expected_version=None, now=late
        )
    assert set(refused.value.errors) == {"late_reason"}
    breaches.mark_notified(
        session,
        admin,
        breach.id,
        notified_at=late,
        reference=None,
        late_reason="The theft was reported to us by the owner only after the weekend",
        expected_version=None,
        now=late,
    )
    assert breaches.notification_clock(breach, late).state is breaches.ClockState.NOTIFIED_LATE


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": "  "}, "description"),
        ({"discovered_at": DISCOVERED + timedelta(days=1)}, "discovered_at"),
        ({"occurred_at": DISCOVERED + timedelta(minutes=1)}, "occurred_at"),
        ({"data_categories": []}, "data_categories"),
        ({"data_categories": ["dreams"]}, "data_categories"),
        ({"owners": ["owner-zz"]}, "owners"),
        ({"owners": [], "affected_description": ""}, "affected_description"),
        ({"owners": ["owner-a", "owner-b"], "affected_count": 1}, "affected_count"),
    ],
)
def test_a_refused_record_names_the_field_and_writes_nothing(session, world, change, field):
    with pytest.raises(ValidationFailed) as refused:
        breaches.record_breach(session, actor_of(session), {**FACTS, **change}, now=DISCOVERED)
    assert field in refused.value.errors
    assert session.scalar(select(func.count()).select_from(Breach)) == 0


def test_only_administrators_record_or_read_breaches(session, world):
    police = actor_of(session, "police-a")
    with pytest.raises(PermissionDenied):
        breaches.record_breach(session, police, FACTS, now=DISCOVERED)
    with pytest.raises(PermissionDenied):
        breaches.list_breaches(session, police)


# --- the admin page and the export ------------------------------------------------------------------------------


def _csrf(client, world, path="/admin/breaches"):
    html = client.get(path, headers=world.headers["admin"]).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


FORM = {
    "description": "Laptop with an export of commune A's register stolen",
    "discovered_at": "2026-11-30T09:00",
    "data_categories": ["owner_contacts", "camera_locations"],
    "owners": "owner-a, owner-b",
    "affected_count": "40",
}


def _record(client, world, **change):
    form = {**FORM, **change, "csrf_token": _csrf(client, world)}
    return client.post("/admin/breaches?lang=en", data=form, headers=world.headers["admin"])


def test_an_admin_records_a_breach_on_the_page_and_sees_its_clock_in_vietnam_time(client, world, session):
    answer = _record(client, world)
    assert answer.status_code == 303
    breach = session.scalars(select(Breach)).one()
    assert breach.discovered_at == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
    assert sorted(owner.external_id for owner in breach.owners) == ["owner-a", "owner-b"]

    listing = client.get("/admin/breaches?lang=en", headers=world.headers["admin"]).get_data(as_text=True)
    assert f'data-breach="{breach.id}"' in listing
    assert "03/12/2026 09:00" in listing  # the deadline, 72 hours later, in Vietnam time
    shown = client.get(answer.headers["Location"] + "?lang=vi", headers=world.headers["admin"]).get_data(as_text=True)
    assert 'data-clock="overdue"' in shown or 'data-clock="running"' in shown
    assert "03/12/2026 09:00" in shown
    home = client.get("/admin?lang=en", headers=world.headers["admin"]).get_data(as_text=True)
    assert "/admin/breaches" in home


def test_a_refused_form_is_a_422_naming_the_field_and_keeps_nothing(client, world, session):
    answer = _record(client, world, owners="owner-zz")
    assert answer.status_code == 422
    assert 'data-field="owners"' in answer.get_data(as_text=True)
    answer = _record(client, world, discovered_at="yesterday")
    assert answer.status_code == 422
    assert 'data-field="discovered_at"' in answer.get_data(as_text=True)
    answer = _record(client, world, data_categories=["dreams"])
    assert answer.status_code == 422 and 'data-field="data_categories"' in answer.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Breach)) == 0


def test_the_page_marks_notified_and_closes_and_refuses_a_late_notice_without_a_reason(client, world, session):
    _record(client, world, discovered_at="2026-11-01T08:00", measures="Passwords changed")
    breach = session.scalars(select(Breach)).one()
    path = f"/admin/breaches/{breach.id}"
    late = {"notified_at": "2026-11-10T08:00", "reference": "CV 12", "version": "1"}
    answer = client.post(
        f"{path}/notified?lang=en",
        data={**late, "csrf_token": _csrf(client, world, path)},
        headers=world.headers["admin"],
    )
    assert answer.status_code == 422 and 'data-field="late_reason"' in answer.get_data(as_text=True)
    answer = client.post(
        f"{path}/notified",
        data={**late, "late_reason": "Found in an audit only", "csrf_token": _csrf(client, world, path)},
        headers=world.headers["admin"],
    )
    assert answer.status_code == 303
    answer = client.post(
        f"{path}/close", data={"version": "1", "csrf_token": _csrf(client, world, path)}, headers=world.headers["admin"]
    )
    assert answer.status_code == 409  # stale: the notification bumped it to 2
    answer = client.post(
        f"{path}/close", data={"version": "2", "csrf_token": _csrf(client, world, path)}, headers=world.headers["admin"]
    )
    assert answer.status_code == 303
    session.expire_all()
    assert session.get(Breach, breach.id).status is BreachStatus.CLOSED


def test_the_export_for_a05_is_in_vietnamese_with_the_notification_fields(client, world, session, app, monkeypatch):
    monkeypatch.setitem(app.config, "PRIVACY_CONTROLLER_NAME", "Công an tỉnh Thử")
    monkeypatch.setitem(app.config, "PRIVACY_CONTROLLER_CONTACT", "Phòng PA05, 0243 000 000")
    _record(client, world, likely_consequences="Calls pretending to be the police")
    breach = session.scalars(select(Breach)).one()

    shown = client.get(f"/admin/breaches/{breach.id}?lang=en", headers=world.headers["admin"]).get_data(as_text=True)
    link = re.search(r'id="breach-report" href="([^"]+)"', shown).group(1).replace("&amp;", "&")
    printable = client.get(link, headers=world.headers["admin"])
    html = printable.get_data(as_text=True)
    assert printable.status_code == 200 and '<html lang="vi">' in html
    for expected in ("A05", "Công an tỉnh Thử", "Phòng PA05", "Calls pretending", "03/12/2026 09:00", "owner-b"):
        assert expected in html
    assert "Notification of a personal data breach" not in html
    english = client.get(f"/admin/breaches/{breach.id}/report?lang=en", headers=world.headers["admin"])
    assert "Notification of a personal data breach" in english.get_data(as_text=True)

    exported = client.get(f"/admin/breaches/{breach.id}/report.json", headers=world.headers["admin"])
    assert "attachment" in exported.headers["Content-Disposition"]
    body = exported.get_json()
    assert body["discovered_at"] == "2026-11-30T09:00:00+07:00"
    assert body["notification_deadline"] == "2026-12-03T09:00:00+07:00"
    assert [c["code"] for c in body["data_categories"]] == ["owner_contacts", "camera_locations"]
    assert body["affected_count"] == 40 and body["affected_owners"] == ["owner-a", "owner-b"]
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "breach.report")) == 3


def test_the_breach_pages_are_for_administrators_only(client, world):
    for who in ("police_a", "province_staff"):
        assert client.get("/admin/breaches", headers=world.headers[who]).status_code == 403
    assert client.get("/admin/breaches").status_code in (302, 303, 401)
