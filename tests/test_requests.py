"""Footage requests end to end through the API, and every rule of the two transition tables."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from geoalchemy2.shape import from_shape
from request_support import NOW, act, iso, open_request
from shapely import Point
from sqlalchemy import select

from camera_registry.models import (
    ASSIGNMENT_TRANSITIONS,
    REQUEST_TRANSITIONS,
    Assignment,
    AssignmentStatus,
    AuditEvent,
    FootageRequest,
    RequestStatus,
)
from camera_registry.services.access import SYSTEM
from camera_registry.services.workflow import IllegalTransition, StaleVersion, transition_assignment, transition_request

SHA = "ab" * 32


def test_a_request_is_routed_to_the_owner_whose_lens_saw_it(client, world, session):
    response = open_request(client, world)
    assert response.status_code == 201, response.get_json()
    request = response.get_json()
    assert request["status"] == "routed" and request["commune_code"] == "A"
    assert (request["lenses_considered"], request["lenses_routed"]) == (1, 1)
    [assignment] = request["assignments"]
    assert assignment["owner_id"] == world.objects["a"]["owner"] and assignment["status"] == "notified"
    assert assignment["covered_by_commitment"] is True
    window_start = datetime.fromisoformat(request["window_start"])
    assert datetime.fromisoformat(assignment["preservation_deadline"]) == window_start + timedelta(days=14)
    assert assignment["lenses"][0]["lens_id"] == world.objects["a"]["lens"]
    assert 9 < assignment["lenses"][0]["distance_m"] < 12
    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == "request", AuditEvent.entity_id == str(request["id"]))
        .order_by(AuditEvent.id)
    )
    assert list(actions) == ["request.create", "request.open", "request.route"]


def test_a_lens_looking_away_is_skipped_and_the_request_resolves_empty(client, world):
    behind = {"type": "Point", "coordinates": [105.8199, 21.02]}  # 10 m behind lens-a
    request = open_request(client, world, incident=behind).get_json()
    assert request["status"] == "resolved" and request["assignments"] == []
    assert request["lenses_skipped"]["out_of_view"] == 1 and request["lenses_routed"] == 0


def test_overwritten_footage_is_recorded_not_routed(client, world):
    long_ago = NOW - timedelta(days=30)
    request = open_request(client, world, window_start=iso(long_ago), window_end=iso(long_ago + timedelta(hours=1)))
    assert request.get_json()["lenses_skipped"]["overwritten"] == 1
    assert request.get_json()["status"] == "resolved"


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"window_end": iso(NOW - timedelta(hours=4))}, "window_end", "after window_start"),
        ({"window_end": iso(NOW + timedelta(hours=1))}, "window_end", "future"),
        ({"window_start": iso(NOW - timedelta(days=9))}, "window_end", "7 days"),
        ({"radius_m": 2500}, "radius_m", "less than or equal to 2000"),
        ({"deadline": iso(NOW - timedelta(minutes=1))}, "deadline", "future"),
        ({"incident": {"type": "Point", "coordinates": [105.89, 21.03]}}, "incident", "outside Xã A"),
        (
            {"incident": {"type": "MultiPoint", "coordinates": [[105.82, 21.02], [105.83, 21.02]]}},
            "incident",
            "Point or LineString or Polygon",
        ),
        ({"window_start": "yesterday"}, "window_start", "Not a valid datetime"),
    ],
)
def test_bad_requests_are_refused_precisely(client, world, session, overrides, field, words):
    before = session.scalar(select(FootageRequest.id).order_by(FootageRequest.id.desc()).limit(1))
    response = open_request(client, world, **overrides)
    assert response.status_code == 422, response.get_json()
    assert words in " ".join(response.get_json()["errors"][field]), response.get_json()
    assert session.scalar(select(FootageRequest.id).order_by(FootageRequest.id.desc()).limit(1)) == before


def test_an_incident_just_over_the_border_is_accepted_within_radius(client, world):
    near_border = {"type": "Point", "coordinates": [105.851, 21.02]}  # about 100 m into commune B
    assert open_request(client, world, incident=near_border).status_code == 201


def test_route_taken_as_a_linestring(client, world):
    # The route passes 5 m north of lens-a, through the sector it watches to the east.
    route = {"type": "LineString", "coordinates": [[105.8195, 21.02005], [105.8215, 21.02005]]}
    request = open_request(client, world, incident=route, radius_m=50).get_json()
    assert request["lenses_routed"] == 1


def test_only_commune_police_file_requests_and_others_cannot_see_them(client, world):
    for role, status in (("admin", 403), ("province_staff", 403), ("anonymous", 401)):
        assert open_request(client, world, role=role).status_code == status, role
    request = open_request(client, world).get_json()
    path = f"/api/v1/footage-requests/{request['id']}"
    assert client.get(path, headers=world.headers["police_b"]).status_code == 404
    assert client.get(path, headers=world.headers["district_staff"]).status_code == 200
    listed = client.get("/api/v1/footage-requests", headers=world.headers["police_b"]).get_json()
    assert listed == []
    staff_cancel = client.post(f"{path}/cancel", json={}, headers=world.headers["district_staff"])
    assert staff_cancel.status_code == 403


def test_answer_footage_and_resolution(client, world, session):
    request = open_request(client, world).get_json()
    [assignment] = request["assignments"]
    consented = act(client, world, assignment, "consent", handover="police_copy", version=assignment["version"])
    assert consented.status_code == 200 and consented.get_json()["status"] == "consented"
    path = f"/api/v1/footage-requests/{request['id']}"
    assert client.get(path, headers=world.headers["police_a"]).get_json()["status"] == "in_progress"
    missing_hash = act(client, world, assignment, "receive_footage", evidence_ref="VT-12")
    assert missing_hash.status_code == 422 and "evidence_sha256" in missing_hash.get_json()["errors"]
    received = act(client, world, assignment, "receive_footage", evidence_ref="VT-12", evidence_sha256=SHA.upper())
    assert received.status_code == 200 and received.get_json()["evidence_sha256"] == SHA
    resolved = client.get(path, headers=world.headers["police_a"]).get_json()
    assert resolved["status"] == "resolved" and resolved["closed_at"]
    assert resolved["outcome"] == {"footage_received": 1, "declined": 0, "no_footage": 0, "expired": 0}


def test_illegal_step_names_the_state_and_allowed_actions(client, world):
    [assignment] = open_request(client, world).get_json()["assignments"]
    act(client, world, assignment, "decline", note="không muốn")
    again = act(client, world, assignment, "consent")
    assert again.status_code == 409
    body = again.get_json()
    assert body["code"] == "illegal_transition" and "declined" in body["message"]
    assert body["errors"]["allowed_actions"] == []


def test_a_stale_version_is_refused_not_lost(client, world):
    [assignment] = open_request(client, world).get_json()["assignments"]
    first = act(client, world, assignment, "consent", version=assignment["version"])
    assert first.status_code == 200
    second = act(client, world, assignment, "report_no_footage", version=assignment["version"])
    assert second.status_code == 409 and second.get_json()["code"] == "stale_version"


def test_cancel_withdraws_open_assignments(client, world):
    request = open_request(client, world).get_json()
    path = f"/api/v1/footage-requests/{request['id']}"
    cancelled = client.post(
        f"{path}/cancel",
        json={"version": request["version"], "note": "nhầm vụ việc"},
        headers=world.headers["police_a"],
    ).get_json()
    assert cancelled["status"] == "cancelled" and cancelled["assignments"][0]["status"] == "closed"
    again = client.post(f"{path}/cancel", json={}, headers=world.headers["police_a"])
    assert again.status_code == 409 and "cancelled" in again.get_json()["message"]


def test_a_draft_is_routed_when_opened(client, world):
    draft = open_request(client, world, draft=True).get_json()
    assert draft["status"] == "draft" and draft["assignments"] == []
    opened = client.post(
        f"/api/v1/footage-requests/{draft['id']}/open",
        json={"version": draft["version"]},
        headers=world.headers["police_a"],
    ).get_json()
    assert opened["status"] == "routed" and len(opened["assignments"]) == 1


def test_list_puts_the_most_urgent_first(client, world):
    later = open_request(client, world, deadline=iso(NOW + timedelta(days=5))).get_json()
    sooner = open_request(client, world, deadline=iso(NOW + timedelta(days=1))).get_json()
    listed = client.get("/api/v1/footage-requests", headers=world.headers["police_a"]).get_json()
    assert [line["id"] for line in listed][:2] == [sooner["id"], later["id"]]
    assert listed[0]["open_assignments"] == 1 and listed[0]["next_deadline"]


# --------------------------------------------------------------------------- every rule of the tables


def persisted_request(session, world, status: RequestStatus) -> FootageRequest:
    request = FootageRequest(
        commune=world.commune_a,
        case_ref="T",
        reason="t",
        legal_basis="t",
        incident=from_shape(Point(105.8202, 21.02), srid=4326),
        window_start=NOW - timedelta(hours=2),
        window_end=NOW - timedelta(hours=1),
        radius_m=100,
        status=status,
        lenses_skipped={},
    )
    session.add(request)
    session.flush()
    return request


def assert_follows_the_table(session, entity, action, transitions, transition, entity_type):
    """`action` on `entity` moves it where the transition table says, one version on and audited, or is refused
    and leaves it where it was."""
    state, version = entity.status, entity.version
    target = transitions.get((state, action))
    if target is None:
        with pytest.raises(IllegalTransition):
            transition(session, SYSTEM, entity, action)
        assert entity.status == state
        return
    transition(session, SYSTEM, entity, action)
    assert entity.status == target and entity.version == version + 1
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (event.action, event.from_state, event.to_state) == (f"{entity_type}.{action}", state.value, target.value)


@pytest.mark.parametrize(
    "state, action", list(itertools.product(RequestStatus, sorted({a for _, a in REQUEST_TRANSITIONS})))
)
def test_request_transition_table(session, world, state, action):
    request = persisted_request(session, world, state)
    assert_follows_the_table(session, request, action, REQUEST_TRANSITIONS, transition_request, "request")


@pytest.mark.parametrize(
    "state, action", list(itertools.product(AssignmentStatus, sorted({a for _, a in ASSIGNMENT_TRANSITIONS})))
)
def test_assignment_transition_table(session, world, state, action):
    request = persisted_request(session, world, RequestStatus.IN_PROGRESS)
    # A second, unanswered assignment keeps the request open whatever this one does.
    for rank, status in ((1, state), (2, AssignmentStatus.PENDING)):
        request.assignments.append(
            Assignment(
                owner_id=world.objects["a"]["owner"],
                rank=rank,
                status=status,
                preservation_deadline=NOW + timedelta(days=3),
                distance_m=5,
                covered_by_commitment=True,
            )
        )
    session.flush()
    assignment = request.assignments[0]
    assert_follows_the_table(session, assignment, action, ASSIGNMENT_TRANSITIONS, transition_assignment, "assignment")


def test_stale_version_in_the_service(session, world):
    request = persisted_request(session, world, RequestStatus.ROUTED)
    with pytest.raises(StaleVersion):
        transition_request(session, SYSTEM, request, "cancel", expected_version=request.version + 1)
