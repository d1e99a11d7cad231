"""The police pages answer a refusal with the status of the one table (camera_registry.http.statuses), the
same status the API answers for the same step: a not-found is a 404 on both, never a 422."""

from __future__ import annotations

import pytest
from request_support import act, open_request

MISSING = 2**31 - 1


@pytest.fixture()
def routed(client, world, app, monkeypatch):
    """A routed request of commune A and its one assignment; the pages' CSRF field is not what is tested here."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    created = open_request(client, world).get_json()
    return created, created["assignments"][0]


def _page_step(client, world, request_id, assignment_id, action, role="police_a", **form):
    return client.post(
        f"/requests/{request_id}/assignments/{assignment_id}/{action}", data=form, headers=world.headers[role]
    )


@pytest.mark.parametrize(
    ("role", "assignment_of"),
    [("police_a", lambda assignment: MISSING), ("police_b", lambda assignment: assignment["id"])],
    ids=["no-such-assignment", "another-communes-assignment"],
)
def test_an_assignment_not_found_is_a_404_on_the_page_as_in_the_api(client, world, routed, role, assignment_of):
    created, assignment = routed
    assignment_id = assignment_of(assignment)
    page = _page_step(client, world, created["id"], assignment_id, "consent", role=role)
    api = act(client, world, {"id": assignment_id}, "consent", role=role)
    assert (page.status_code, api.status_code) == (404, 404), page.get_data(as_text=True)[:500]


def test_a_request_not_found_is_a_404_on_the_page_as_in_the_api(client, world, routed):
    page = client.post(f"/requests/{MISSING}/cancel", data={}, headers=world.headers["police_a"])
    api = client.post(f"/api/v1/footage-requests/{MISSING}/cancel", json={}, headers=world.headers["police_a"])
    assert (page.status_code, api.status_code) == (404, 404)


def test_a_form_its_schema_refuses_is_a_422_as_in_the_api(client, world, routed):
    created, assignment = routed
    page = _page_step(client, world, created["id"], assignment["id"], "consent", version="not a number")
    api = act(client, world, assignment, "consent", version="not a number")
    assert (page.status_code, api.status_code) == (422, 422)
    assert "version" in api.get_json()["errors"]


def test_a_step_the_reader_may_not_take_is_a_403_on_the_page_as_in_the_api(client, world, routed):
    created, assignment = routed
    page = _page_step(client, world, created["id"], assignment["id"], "consent", role="district_staff")
    api = act(client, world, assignment, "consent", role="district_staff")
    assert (page.status_code, api.status_code) == (403, 403)


def test_an_assignment_of_another_request_is_a_404_on_the_page_and_is_left_as_it_was(client, world, routed):
    created, _ = routed
    other = open_request(client, world, case_ref="VV-2026-002").get_json()
    [elsewhere] = other["assignments"]
    page = _page_step(client, world, created["id"], elsewhere["id"], "consent", version=elsewhere["version"])
    assert page.status_code == 404, page.get_data(as_text=True)[:500]
    stored = client.get(f"/api/v1/footage-requests/{other['id']}", headers=world.headers["police_a"]).get_json()
    assert [(a["id"], a["status"], a["version"]) for a in stored["assignments"]] == [
        (elsewhere["id"], "notified", elsewhere["version"])
    ]
    assert _page_step(client, world, other["id"], elsewhere["id"], "consent").status_code == 303
