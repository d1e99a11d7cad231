"""A request's outcome says how it ended, from its assignments' final states: footage, an answer without it, no
answer at all, or cancelled; the police's list and page show it, and flag lenses already partly overwritten."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import timedelta

import pytest
from geoalchemy2.shape import from_shape
from outcome_support import file_request
from owner_support import NOW, police_actor
from shapely import Point
from sqlalchemy import select

from camera_registry.models import FootageRequest, Lens, Owner, OwnerKind, Recorder, RequestOutcome, RequestStatus
from camera_registry.services import requests, stats
from camera_registry.services.access import SYSTEM
from camera_registry.services.workflow import transition_assignment, transition_request

SHA = "ab" * 32
OUTCOME = RequestOutcome


@pytest.fixture()
def second_owner(session, world):
    """Owner c with a lens beside lens-a, seeing the same spot: requests there go to two owners."""
    owner = Owner(external_id="owner-c", kind=OwnerKind.BUSINESS, name="Owner c", commune=world.commune_a)
    recorder = Recorder(
        external_id="rec-c", owner=owner, retention_days=7, point=from_shape(Point(105.8201, 21.0201), srid=4326)
    )
    lens = Lens(
        external_id="lens-c",
        recorder=recorder,
        point=from_shape(Point(105.8201, 21.0201), srid=4326),
        bearing_deg=135.0,
        fov_deg=90.0,
        range_m=40.0,
    )
    session.add_all([owner, recorder, lens])
    session.flush()
    return owner


def step(session, assignment, *actions):
    for action in actions:
        if action == "expire":
            transition_assignment(session, SYSTEM, assignment, "expire")
        else:
            receiving = action == "receive_footage"
            requests.act_on_assignment(
                session,
                police_actor(session),
                assignment.id,
                action,
                evidence_ref="VC-1" if receiving else None,
                evidence_sha256=SHA if receiving else None,
            )


@pytest.mark.parametrize(
    ("plans", "status", "outcome"),
    [
        ([("consent", "receive_footage"), ("decline",)], RequestStatus.RESOLVED, OUTCOME.RESOLVED_WITH_FOOTAGE),
        ([("consent", "receive_footage", "close"), ("expire",)], RequestStatus.RESOLVED, OUTCOME.RESOLVED_WITH_FOOTAGE),
        ([("decline",), ("decline",)], RequestStatus.RESOLVED, OUTCOME.RESOLVED_WITHOUT_FOOTAGE),
        ([("report_no_footage",), ("expire",)], RequestStatus.RESOLVED, OUTCOME.RESOLVED_WITHOUT_FOOTAGE),
        ([("expire",), ("expire",)], RequestStatus.RESOLVED, OUTCOME.EXPIRED_UNANSWERED),
        ([("expire",), ("decline",)], RequestStatus.RESOLVED, OUTCOME.RESOLVED_WITHOUT_FOOTAGE),
        (
            [("report_no_footage",), ("consent", "receive_footage")],
            RequestStatus.RESOLVED,
            OUTCOME.RESOLVED_WITH_FOOTAGE,
        ),
        ([("consent",), ("decline",)], RequestStatus.IN_PROGRESS, OUTCOME.OPEN),
        ([("expire",), ()], RequestStatus.IN_PROGRESS, OUTCOME.OPEN),
        ([(), ()], RequestStatus.ROUTED, OUTCOME.OPEN),
    ],
    ids=lambda value: "-".join("+".join(plan) or "wait" for plan in value) if isinstance(value, list) else None,
)
def test_each_outcome_follows_from_the_assignments_final_states(session, world, second_owner, plans, status, outcome):
    request = file_request(session)
    assert len(request.assignments) == 2
    for assignment, actions in zip(request.assignments, plans):
        step(session, assignment, *actions)
    session.flush()
    assert (request.status, request.outcome) == (status, outcome)


def test_a_cancelled_request_is_cancelled_whatever_its_owners_said(session, world, second_owner):
    request = file_request(session)
    step(session, request.assignments[0], "consent")
    requests.cancel_request(session, police_actor(session), request.id)
    assert request.outcome == OUTCOME.CANCELLED


def test_a_request_past_its_deadline_with_footage_still_awaited_ended_without_footage(session, world):
    request = file_request(session)
    [assignment] = request.assignments
    step(session, assignment, "consent")
    transition_request(session, SYSTEM, request, "expire")
    assert (request.status, request.outcome) == (RequestStatus.EXPIRED, OUTCOME.RESOLVED_WITHOUT_FOOTAGE)


def test_a_request_with_no_one_to_ask_ended_without_footage(session, world):
    request = file_request(session, incident=Point(105.8190, 21.02))  # behind lens-a
    assert request.assignments == [] and request.outcome == OUTCOME.RESOLVED_WITHOUT_FOOTAGE


def test_the_police_list_and_page_name_the_outcome_in_both_languages(client, session, world, second_owner):
    request = file_request(session)
    for assignment in request.assignments:
        step(session, assignment, "expire")
    session.commit()
    headers = world.headers["police_a"]

    page = client.get(f"/requests/{request.id}?lang=vi", headers=headers).get_data(as_text=True)
    assert 'data-outcome="expired_unanswered">Hết hạn, không chủ camera nào trả lời</span>' in page
    listed = client.get("/requests?lang=en", headers=headers).get_data(as_text=True)
    assert 'data-outcome="expired_unanswered">Expired, no owner answered</td>' in listed


def test_the_police_page_flags_lenses_already_partly_overwritten(client, session, world, second_owner):
    # Owner c's recorder keeps 7 days, owner a's 14: a window from 8 to 6 days ago is partly gone on c's only.
    request = file_request(session, window_start=NOW - timedelta(days=8), window_end=NOW - timedelta(days=6))
    flags = {assignment.owner.external_id: assignment.partially_overwritten for assignment in request.assignments}
    assert flags == {"owner-a": False, "owner-c": True}
    session.commit()

    page = client.get(f"/requests/{request.id}?lang=en", headers=world.headers["police_a"]).get_data(as_text=True)
    assert page.count('class="badge partially-overwritten"') == 1
    assert "Partly overwritten already: lens-c" in page
    vi = client.get(f"/requests/{request.id}?lang=vi", headers=world.headers["police_a"]).get_data(as_text=True)
    assert "Đã bị ghi đè một phần: lens-c" in vi


def test_figures_count_each_outcome_as_a_recount_does_and_the_downloads_carry_them(
    client, session, world, second_owner
):
    plans = {
        "with": ("consent", "receive_footage"),
        "without": ("decline",),
        "expired": ("expire",),
        "cancelled": None,
        "open": (),
    }
    for actions in plans.values():
        request = file_request(session)
        if actions is None:
            requests.cancel_request(session, police_actor(session), request.id)
        for assignment in request.assignments:
            step(session, assignment, *(actions or ()))
    session.commit()

    [row] = [row for row in stats.unit_figures(session, SYSTEM).rows if row.code == "A"]
    recount = Counter(request.outcome for request in session.scalars(select(FootageRequest)))
    assert {outcome: getattr(row.figures, name) for outcome, name in stats.OUTCOME_FIELDS.items()} == recount
    assert set(recount.values()) == {1} and len(recount) == len(RequestOutcome)
    assert row.figures.requests_opened == sum(recount.values()) == 5
    assert row.figures.requests_resolved == 3  # what the status says: the expired-unanswered one among them

    answer = client.get("/api/v1/stats/admin-units?format=csv&lang=vi", headers=world.headers["admin"])
    lines = list(csv.reader(answer.get_data(as_text=True).lstrip("\ufeff").splitlines()))
    header, line_a = lines[0], next(line for line in lines[1:] if line[0] == "A")
    assert line_a[header.index("Yêu cầu hết hạn, không chủ camera nào trả lời")] == "1"
    assert line_a[header.index("Yêu cầu đã xong, có dữ liệu")] == "1"
    english = client.get("/api/v1/stats/admin-units?format=csv&lang=en", headers=world.headers["admin"])
    assert "Requests resolved without footage (declined, no footage)" in english.get_data(as_text=True)
