"""Data-subject requests (issue 17, item 2): the legal clocks on a fixed clock, the transition table, the API for
staff, the owner's data page, and what each kind does, deletion leaving the figures as they were and nothing
personal readable."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from notify_support import run
from owner_support import police_actor
from sqlalchemy import select

from camera_registry.models import (
    SUBJECT_REQUEST_TRANSITIONS,
    AuditEvent,
    ConsentRecord,
    OutboxMessage,
    Owner,
    OwnerLink,
    Recorder,
    RecorderStatus,
    SharingCommitment,
    SubjectRequest,
    SubjectRequestChannel,
    SubjectRequestKind,
    SubjectRequestStatus,
)
from camera_registry.services import commune_figures, stats, subject_requests
from camera_registry.services.access import SYSTEM
from camera_registry.services.owner_retention import RetentionSettings, apply_owner_retention
from camera_registry.services.owners import ANONYMISED_NAME
from camera_registry.services.workflow import IllegalTransition, transition_subject_request
from camera_registry.services.working_days import is_working_day, working_days_after

API = "/api/v1/subject-requests"
#: Friday 24 April 2026, 10:00 in Hà Nội: the next Monday (27 April) is the Hùng Kings' day taken off.
FRIDAY_BEFORE_A_HOLIDAY = datetime(2026, 4, 24, 3, 0, tzinfo=UTC)
#: Thursday 3 December 2026, 16:00 in Hà Nội: a plain weekend follows.
THURSDAY = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def end_of_local(year: int, month: int, day: int) -> datetime:
    """Midnight at the end of that Vietnamese day, in UTC."""
    return datetime(year, month, day, 17, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- clocks


def test_working_days_skip_weekends_and_public_holidays():
    assert not is_working_day(datetime(2026, 4, 25).date())  # Saturday
    assert not is_working_day(datetime(2026, 4, 27).date())  # the Hùng Kings' day, taken on Monday
    assert not is_working_day(datetime(2026, 2, 17).date())  # Tết
    assert is_working_day(datetime(2026, 4, 28).date())
    assert working_days_after(datetime(2026, 4, 24).date(), 2) == datetime(2026, 4, 29).date()
    assert working_days_after(datetime(2026, 4, 29).date(), 1) == datetime(2026, 5, 4).date()  # past 30/4 and 1/5


def test_the_clocks_count_working_days_to_acknowledge_and_days_to_complete():
    over_the_holiday = subject_requests.clocks(FRIDAY_BEFORE_A_HOLIDAY, processor_involved=False)
    assert over_the_holiday.acknowledge_by == end_of_local(2026, 4, 29)  # Tue 28, Wed 29: Mon 27 is a holiday
    assert over_the_holiday.complete_by == end_of_local(2026, 5, 9)  # 15 days, weekends and holidays counted
    assert subject_requests.clocks(FRIDAY_BEFORE_A_HOLIDAY, True).complete_by == end_of_local(2026, 5, 14)
    over_a_weekend = subject_requests.clocks(THURSDAY, processor_involved=False)
    assert over_a_weekend.acknowledge_by == end_of_local(2026, 12, 7)  # Friday 4, Monday 7
    late_evening = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)  # 23:30 in Hà Nội, still Thursday there
    assert subject_requests.clocks(late_evening, False).acknowledge_by == end_of_local(2026, 12, 7)
    after_midnight = datetime(2026, 12, 3, 17, 30, tzinfo=UTC)  # 00:30 on Friday in Hà Nội
    assert subject_requests.clocks(after_midnight, False).acknowledge_by == end_of_local(2026, 12, 8)


def filed(session, world, kind=SubjectRequestKind.ACCESS, now=FRIDAY_BEFORE_A_HOLIDAY, **options):
    found = subject_requests.file_for_owner(
        session,
        police_actor(session),
        world.objects["a"]["owner"],
        kind,
        "Tôi muốn xem dữ liệu của tôi",
        SubjectRequestChannel.IN_PERSON,
        now=now,
        **options,
    )
    session.commit()
    return found


def test_one_extension_of_at_most_15_days_with_a_reason(session, world):
    officer = police_actor(session)
    found = filed(session, world, processor_involved=True)
    subject_requests.acknowledge(session, officer, found.id, now=FRIDAY_BEFORE_A_HOLIDAY + timedelta(days=1))
    assert not found.acknowledgement_overdue(FRIDAY_BEFORE_A_HOLIDAY + timedelta(days=30))
    with pytest.raises(subject_requests.ValidationFailed) as no_reason:
        subject_requests.extend(session, officer, found.id, 10, "  ")
    assert "reason" in no_reason.value.errors
    with pytest.raises(subject_requests.ValidationFailed) as too_long:
        subject_requests.extend(session, officer, found.id, 16, "the processor needs time")
    assert "days" in too_long.value.errors
    subject_requests.extend(session, officer, found.id, 15, "the processor needs time")
    assert found.extended_until == end_of_local(2026, 5, 29) == found.due  # 20 days, then 15 more
    with pytest.raises(subject_requests.Conflict) as twice:
        subject_requests.extend(session, officer, found.id, 1, "again")
    assert "once" in str(twice.value)
    assert found.completion_overdue(end_of_local(2026, 5, 29) + timedelta(seconds=1))
    assert not found.completion_overdue(end_of_local(2026, 5, 29))


def test_an_unacknowledged_request_is_overdue_after_two_working_days(session, world):
    found = filed(session, world)
    assert not found.acknowledgement_overdue(end_of_local(2026, 4, 29))
    assert found.acknowledgement_overdue(end_of_local(2026, 4, 29) + timedelta(minutes=1))
    late = subject_requests.acknowledge(session, police_actor(session), found.id, now=end_of_local(2026, 4, 30))
    assert late.acknowledgement_overdue(end_of_local(2026, 4, 30))
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "subject_request.acknowledge"))
    assert event.details == {"late": True} and (event.from_state, event.to_state) == ("received", "acknowledged")


@pytest.mark.parametrize(
    "state, action",
    list(itertools.product(SubjectRequestStatus, sorted({action for _, action in SUBJECT_REQUEST_TRANSITIONS}))),
)
def test_subject_request_transition_table(session, world, state, action):
    found = filed(session, world)
    found.status = state
    session.commit()
    target = SUBJECT_REQUEST_TRANSITIONS.get((state, action))
    if target is None:
        with pytest.raises(IllegalTransition) as refused:
            transition_subject_request(session, SYSTEM, found, action)
        assert state.value in str(refused.value)
    else:
        assert transition_subject_request(session, SYSTEM, found, action).status == target


# --------------------------------------------------------------------------- the staff API


def file_through_api(client, world, kind="access", role="police_a", **body):
    return client.post(
        API,
        json={"owner_id": world.objects["a"]["owner"], "kind": kind, "channel": "phone", **body},
        headers=world.headers[role],
    )


def test_staff_file_list_acknowledge_and_complete_an_access_request_through_the_api(client, world, session):
    response = file_through_api(client, world, details="Gọi điện hỏi dữ liệu")
    assert response.status_code == 201, response.get_json()
    found = response.get_json()
    assert (found["status"], found["channel"], found["allowed_actions"]) == (
        "received",
        "phone",
        ["acknowledge", "refuse"],
    )
    assert datetime.fromisoformat(found["complete_by"]) - datetime.fromisoformat(found["filed_at"]) <= timedelta(
        days=16
    )

    assert file_through_api(client, world).status_code == 409  # one open request of a kind at a time
    assert file_through_api(client, world, role="police_b").status_code == 404  # another commune's owner
    assert file_through_api(client, world, role="province_staff").status_code == 403
    refused = file_through_api(client, world, kind="deletion", channel="owner_link")
    assert refused.status_code == 422 and "channel" in refused.get_json()["errors"]

    listed = client.get(API, query_string={"open": "true"}, headers=world.headers["police_a"]).get_json()
    assert [item["id"] for item in listed] == [found["id"]] and listed[0]["acknowledgement_overdue"] is False
    assert client.get(API, headers=world.headers["police_b"]).get_json() == []

    early = client.post(f"{API}/{found['id']}/complete", json={}, headers=world.headers["police_a"])
    assert early.status_code == 409 and "acknowledge" in early.get_json()["errors"]["allowed_actions"]
    acknowledged = client.post(f"{API}/{found['id']}/acknowledge", json={}, headers=world.headers["police_a"])
    assert acknowledged.get_json()["status"] == "acknowledged"
    stale = client.post(f"{API}/{found['id']}/complete", json={"version": 1}, headers=world.headers["police_a"])
    assert stale.status_code == 409
    done = client.post(f"{API}/{found['id']}/complete", json={"note": "Đã gửi"}, headers=world.headers["police_a"])
    assert done.status_code == 200 and done.get_json()["status"] == "completed"

    export = client.get(f"{API}/{found['id']}/export", headers=world.headers["police_a"]).get_json()
    assert export["owner"]["name"] == "Owner a" and export["owner"]["phone"] == "0912345678"
    assert [recorder["external_id"] for recorder in export["recorders"]] == ["rec-a"]
    assert [lens["external_id"] for lens in export["lenses"]] == ["lens-a"]
    assert [commitment["text_version"] for commitment in export["commitments"]] == ["2024.1"]
    assert export["sites"] == [{"code": "site-a", "name": "Site a"}]
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "subject_request").order_by(AuditEvent.id)
    )
    assert list(actions) == [
        "subject_request.file",
        "subject_request.acknowledge",
        "subject_request.complete",
        "subject_request.export_read",
    ]
    again = client.post(f"{API}/{found['id']}/refuse", json={"reason": "x"}, headers=world.headers["police_a"])
    assert again.status_code == 409


def test_a_correction_changes_the_owner_through_the_owner_update(client, world, session):
    found = file_through_api(client, world, kind="correction").get_json()
    client.post(f"{API}/{found['id']}/acknowledge", json={}, headers=world.headers["admin"])
    nothing = client.post(f"{API}/{found['id']}/complete", json={}, headers=world.headers["admin"])
    assert nothing.status_code == 422 and "changes" in nothing.get_json()["errors"]
    bad = client.post(f"{API}/{found['id']}/complete", json={"changes": {"email": "x"}}, headers=world.headers["admin"])
    assert bad.status_code == 422
    done = client.post(
        f"{API}/{found['id']}/complete", json={"changes": {"address": "2 Đường Mới"}}, headers=world.headers["admin"]
    )
    assert done.status_code == 200 and done.get_json()["corrected_fields"] == ["address"]
    session.expire_all()
    assert session.get(Owner, world.objects["a"]["owner"]).address == "2 Đường Mới"
    [update] = session.scalars(select(AuditEvent).where(AuditEvent.action == "owner.update"))
    assert update.details == {"fields": ["address"]}


def test_a_restriction_stops_the_non_urgent_messages(client, world, session):
    found = file_through_api(client, world, kind="restriction").get_json()
    client.post(f"{API}/{found['id']}/acknowledge", json={}, headers=world.headers["police_a"])
    assert client.post(f"{API}/{found['id']}/complete", json={}, headers=world.headers["police_a"]).status_code == 200
    session.expire_all()
    assert session.get(Owner, world.objects["a"]["owner"]).non_urgent_opt_out is True
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.action == "owner.restrict")) == "owner.restrict"


# --------------------------------------------------------------------------- the owner's data page


def data_csrf(client, token) -> str:
    page = client.get(f"/o/{token}/data").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_owner_files_a_request_on_their_data_page(client, world, session, owner_link):
    _, token = owner_link
    page = client.get(f"/o/{token}/data")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Dữ liệu cá nhân của ông/bà" in text and 'id="no-data-requests"' in text
    assert session.scalar(select(SubjectRequest.id)) is None  # showing the page wrote nothing

    form = {"csrf_token": data_csrf(client, token), "kind": "deletion", "details": "Xin xóa thông tin của tôi"}
    sent = client.post(f"/o/{token}/data", data=form)
    assert sent.status_code == 303
    [found] = session.scalars(select(SubjectRequest))
    assert (found.kind, found.channel, found.filed_by_user_id) == (
        SubjectRequestKind.DELETION,
        SubjectRequestChannel.OWNER_LINK,
        None,
    )
    assert found.details == "Xin xóa thông tin của tôi" and found.filed_through_link_id is not None
    shown = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert f'data-request="{found.id}"' in shown and 'id="filed"' in shown

    twice = client.post(f"/o/{token}/data", data={**form, "csrf_token": data_csrf(client, token)})
    assert twice.status_code == 409 and 'id="data-errors"' in twice.get_data(as_text=True)
    unknown = client.post(f"/o/{token}/data", data={"csrf_token": data_csrf(client, token), "kind": "everything"})
    assert unknown.status_code == 422
    assert client.get("/o/not-a-token/data").status_code == 404
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "subject_request.file"))
    assert event.actor_label == f"owner:{found.owner_id}"


def test_the_data_page_opens_in_the_owners_message_language(app, world, session, owner_link):
    assignment, token = owner_link
    session.get(Owner, assignment.owner_id).language = "en"
    session.flush()
    page = app.test_client().get(f"/o/{token}/data").get_data(as_text=True)  # no cookie: the owner's language
    assert '<html lang="en"' in page and "Your personal data" in page


def test_the_owner_reads_the_export_of_a_completed_access_request(client, world, session, owner_link):
    _, token = owner_link
    consent = {"csrf_token": data_csrf(client, token), "action": "consent", "handover": "police_copy"}
    assert client.post(f"/o/{token}", data=consent).status_code == 303
    form = {"csrf_token": data_csrf(client, token), "kind": "access"}
    assert client.post(f"/o/{token}/data", data=form).status_code == 303
    found = session.scalar(select(SubjectRequest))
    assert client.get(f"/o/{token}/data/{found.id}/export").status_code == 404  # not completed yet
    officer = police_actor(session)
    subject_requests.acknowledge(session, officer, found.id)
    subject_requests.complete(session, officer, found.id)
    session.commit()
    page = client.get(f"/o/{token}/data/{found.id}/export")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Owner a" in text and "lens-a" in text and "1 Road a" in text
    assert "Ông/bà đã đồng ý giao dữ liệu camera" in text
    as_json = client.get(f"/o/{token}/data/{found.id}/export", query_string={"format": "json"}).get_json()
    assert as_json["owner"]["email"] == "a@example.vn"
    assert {message["kind"] for message in as_json["messages"]} <= {"assignment.request", "assignment.reminder"}


# --------------------------------------------------------------------------- deletion


def figures(session, now: datetime):
    """The communes' figures as the figures page reads them at `now`, and as recounted from the registry: one moment
    for the reads compared (a commune's coverage not stored yet is computed in each read and stamped with it)."""
    rows = [(row.code, row.figures) for row in stats.unit_figures(session, SYSTEM, now=now).rows]
    ids = list(session.scalars(select(Owner.commune_id).distinct()))
    return rows, commune_figures.count_registry(session, ids, now)


def test_deletion_anonymises_the_owner_and_leaves_the_figures_as_they_were(client, world, session, owner_link):
    assignment, token = owner_link
    owner_id = world.objects["a"]["owner"]
    messages_before = session.scalars(select(OutboxMessage).where(OutboxMessage.assignment_id == assignment.id)).all()
    assert messages_before and any(
        "0912345678" in message.recipient or "@" in message.recipient for message in messages_before
    )
    facts = select(
        AuditEvent.id, AuditEvent.action, AuditEvent.entity_type, AuditEvent.entity_id, AuditEvent.occurred_at
    )
    trail_before = session.execute(facts.order_by(AuditEvent.id)).all()

    consent = {"csrf_token": data_csrf(client, token), "action": "consent", "handover": "police_copy"}
    assert client.post(f"/o/{token}", data=consent, headers={"User-Agent": "Phone of Owner a"}).status_code == 303
    now = datetime.now(UTC)
    before = figures(session, now)
    form = {"csrf_token": data_csrf(client, token), "kind": "deletion", "details": "Tên tôi là Owner a"}
    assert client.post(f"/o/{token}/data", data=form).status_code == 303
    found = session.scalar(select(SubjectRequest))
    client.post(f"{API}/{found.id}/acknowledge", json={}, headers=world.headers["police_a"])
    done = client.post(f"{API}/{found.id}/complete", json={}, headers=world.headers["police_a"])
    assert done.status_code == 200, done.get_json()

    session.expire_all()
    assert figures(session, now) == before
    owner = session.get(Owner, owner_id)
    assert (owner.name, owner.phone, owner.email, owner.address, owner.zalo) == (
        ANONYMISED_NAME,
        None,
        None,
        None,
        False,
    )
    assert all(
        link.revoked_at is not None for link in session.scalars(select(OwnerLink).where(OwnerLink.owner_id == owner_id))
    )
    for message in session.scalars(select(OutboxMessage).where(OutboxMessage.assignment_id == assignment.id)):
        assert (
            "Owner a" not in message.body
            and "0912345678" not in message.recipient
            and "a@example" not in message.recipient
        )
        assert message.recipient == subject_requests.SCRUBBED and "parameters" not in (message.payload or {})
    assert session.get(SubjectRequest, found.id).details == ""
    [consented] = session.scalars(select(ConsentRecord).where(ConsentRecord.owner_id == owner_id))
    assert consented.given_at is not None and consented.notice_sha256  # the proof of the act stays
    assert (consented.user_agent, consented.client_address, consented.accept_language) == (None, None, None)

    shown = client.get(f"/api/v1/owners/{owner_id}", headers=world.headers["admin"]).get_json()
    assert (shown["name"], shown["phone"], shown["email"], shown["address"]) == (ANONYMISED_NAME, None, None, None)
    dead = client.get(f"/o/{token}/data")
    assert dead.status_code == 410 and "Owner a" not in dead.get_data(as_text=True)
    export = subject_requests.owner_export(session, owner_id)
    flat = repr(export)
    assert "Owner a" not in flat and "0912345678" not in flat and "a@example.vn" not in flat and "1 Road a" not in flat
    assert len(export["recorders"]) == 1 and len(export["lenses"]) == 1 and len(export["commitments"]) == 1

    # The audit trail keeps its facts: no earlier event is gone, and the erasure itself is one.
    assert session.execute(facts.order_by(AuditEvent.id).limit(len(trail_before))).all() == trail_before
    [completion] = session.scalars(select(AuditEvent).where(AuditEvent.action == "subject_request.complete"))
    assert completion.details["kind"] == "deletion" and completion.details["links_revoked"] >= 1
    assert completion.details["messages_scrubbed"] == len(messages_before)
    assert "owner.anonymise" in set(session.scalars(select(AuditEvent.action)))


# --------------------------------------------------------------------------- the staff page


def page_csrf(client, world, role="police_a") -> str:
    page = client.get("/admin/subject-requests", headers=world.headers[role]).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def step(client, world, request_id, name, role="police_a", **form):
    form = {"csrf_token": page_csrf(client, world, role), **form}
    return client.post(f"/admin/subject-requests/{request_id}/{name}", data=form, headers=world.headers[role])


def test_the_staff_page_lists_the_clocks_flags_the_overdue_and_takes_each_step(client, world, session):
    late = filed(session, world, now=FRIDAY_BEFORE_A_HOLIDAY)  # due long ago
    page = client.get("/admin/subject-requests", headers=world.headers["police_a"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f'data-request="{late.id}"' in html
    assert 'data-overdue="acknowledge"' in html and 'data-overdue="complete"' in html
    assert "Tôi muốn xem dữ liệu của tôi" in html and "Yêu cầu về dữ liệu cá nhân" in html
    assert 'id="no-subject-requests"' in client.get("/admin/subject-requests", headers=world.headers["police_b"]).text
    assert client.get("/admin/subject-requests", headers=world.headers["province_staff"]).status_code == 403
    assert "/admin/subject-requests" in client.get("/admin", headers=world.headers["admin"]).text

    assert step(client, world, late.id, "acknowledge", version=str(late.version)).status_code == 303
    no_reason = step(client, world, late.id, "extend", days="5")
    assert no_reason.status_code == 422 and 'data-field="reason"' in no_reason.text
    assert step(client, world, late.id, "extend", days="5", reason="Chờ đơn vị xử lý").status_code == 303
    assert step(client, world, late.id, "complete", note="Đã gửi bản sao").status_code == 303
    assert step(client, world, late.id, "frobnicate").status_code == 404
    session.expire_all()
    done = session.get(SubjectRequest, late.id)
    assert done.status == SubjectRequestStatus.COMPLETED and done.outcome_note == "Đã gửi bản sao"
    assert done.extended_until == done.complete_by + timedelta(days=5)


# --------------------------------------------------------------------------- retention


def retired(session, world, last: datetime, tag="a"):
    """Owner `tag` with their recorder removed and their commitment revoked at `last`, the last thing done."""
    session.get(Recorder, world.objects[tag]["recorder"]).status = RecorderStatus.REMOVED
    commitment = session.get(SharingCommitment, world.objects[tag]["commitment"])
    commitment.signed_at, commitment.valid_until, commitment.revoked_at = last - timedelta(days=60), last, last
    session.commit()
    return world.objects[tag]["owner"]


def test_retention_anonymises_an_owner_without_cameras_once_the_period_has_passed(session, world):
    now = datetime.now(UTC)
    owner_id = retired(session, world, last=now - timedelta(days=800))
    two_years = RetentionSettings(timedelta(days=730))
    before = figures(session, now)
    assert run(apply_owner_retention, session, two_years, now - timedelta(days=100)) == {}  # 700 days only
    assert run(apply_owner_retention, session, RetentionSettings(None), now) == {}  # turned off
    asked = filed(session, world, kind=SubjectRequestKind.ACCESS, now=now)  # an open request keeps the owner
    assert run(apply_owner_retention, session, two_years, now) == {}
    subject_requests.refuse(session, SYSTEM, asked.id, "not the owner")
    session.commit()

    assert run(apply_owner_retention, session, two_years, now) == {"anonymised": 1}  # owner b keeps a recorder
    assert run(apply_owner_retention, session, two_years, now) == {}  # done once
    owner = session.get(Owner, owner_id)
    assert (owner.name, owner.phone, owner.email, owner.address) == (ANONYMISED_NAME, None, None, None)
    assert session.get(Owner, world.objects["b"]["owner"]).name == "Owner b"
    assert figures(session, now) == before
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "owner.retention_anonymise"))
    assert (event.entity_id, event.actor_label) == (str(owner_id), "system")
