"""Conflicts answer 409 with what is stored now, never 500; registry writes are refused when stale.

The registry tests run on the test's rolled-back connection. The races need
connections of their own (two sessions, or a real threaded server), so they
run on a fresh database of the chosen backend.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import re
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from database_support import app_of_its_own, served
from geoalchemy2.shape import from_shape
from import_support import csv_bytes, template_rows
from owner_support import assignment_link
from registry_support import COMMUNE_A_BOX, admin_unit
from request_support import IN_VIEW, open_request, request_body
from shapely import Point
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from camera_registry import migrate
from camera_registry.http.statuses import as_domain_error, status_of
from camera_registry.models import (
    Assignment,
    AssignmentStatus,
    Lens,
    LensStatus,
    Owner,
    OwnerKind,
    Recorder,
    Role,
    User,
)
from camera_registry.services import accounts, workflow
from camera_registry.services.access import SYSTEM, Actor
from camera_registry.services.errors import Conflict
from camera_registry.services.imports import import_register
from camera_registry.services.records import add_new
from camera_registry.services.sample import load_dataset
from camera_registry.services.workflow import StaleVersion, transition_assignment

NOW = datetime.now(UTC)
ROUNDS = 4

# --------------------------------------------------------------------------- registry writes name their version

#: kind -> (path, world key, two different changes that police of commune A may make)
REGISTRY = {
    "lens": ("/api/v1/lenses", "lens", ({"range_m": 40}, {"range_m": 45})),
    "recorder": ("/api/v1/recorders", "recorder", ({"retention_days": 20}, {"retention_days": 21})),
    "owner": ("/api/v1/owners", "owner", ({"name": "Chủ mới"}, {"name": "Chủ mới 2"})),
    "site": ("/api/v1/sites", "spare_site", ({"name": "Điểm mới"}, {"name": "Điểm mới 2"})),
}


def _url(world, kind: str) -> str:
    path, key, _ = REGISTRY[kind]
    return f"{path}/{world.objects['a'][key]}"


def _read(client, world, kind: str):
    response = client.get(_url(world, kind), headers=world.headers["police_a"])
    assert response.status_code == 200, response.get_json()
    return response


def _assert_stale(response, current_version: int) -> None:
    assert response.status_code == 409, response.get_json()
    body = response.get_json()
    assert body["code"] == "stale_version" and set(body) == {"code", "message", "errors", "current", "request_id"}
    assert body["current"] == {"version": current_version}
    assert "version" in body["errors"] and str(current_version) in body["message"]


@pytest.mark.parametrize("kind", REGISTRY)
def test_reads_carry_the_version_and_its_etag(client, world, kind):
    response = _read(client, world, kind)
    assert response.get_json()["version"] == 1 and response.headers["ETag"] == '"1"'


@pytest.mark.parametrize("kind", REGISTRY)
@pytest.mark.parametrize("how", ["body", "if_match"])
def test_a_stale_patch_is_refused_and_a_fresh_one_bumps_the_version(client, world, kind, how):
    change, other = REGISTRY[kind][2]
    headers = world.headers["police_a"]
    read_etag = _read(client, world, kind).headers["ETag"]
    first = client.patch(_url(world, kind), json=change, headers={**headers, "If-Match": read_etag})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["version"] == 2 and first.headers["ETag"] == '"2"'

    stale = (
        {"json": {**change, "version": 1}, "headers": headers}
        if how == "body"
        else {"json": change, "headers": {**headers, "If-Match": '"1"'}}
    )
    _assert_stale(client.patch(_url(world, kind), **stale), 2)

    fresh = (
        {"json": {**change, "version": 2}, "headers": headers}
        if how == "body"
        else {"json": change, "headers": {**headers, "If-Match": '"2"'}}
    )
    # An unchanged value is no change: nothing is written and the version stays.
    assert client.patch(_url(world, kind), **fresh).get_json()["version"] == 2
    fresh["json"] = {**fresh["json"], **other}
    again = client.patch(_url(world, kind), **fresh)
    assert again.status_code == 200 and again.get_json()["version"] == 3 and again.headers["ETag"] == '"3"'


@pytest.mark.parametrize("kind", REGISTRY)
def test_a_write_without_a_version_is_unconditional_and_bumps_it(client, world, kind):
    change, other = REGISTRY[kind][2]
    response = client.patch(_url(world, kind), json=change, headers=world.headers["police_a"])
    assert response.status_code == 200 and response.get_json()["version"] == 2
    star = client.patch(_url(world, kind), json=other, headers={**world.headers["police_a"], "If-Match": "*"})
    assert star.status_code == 200 and star.get_json()["version"] == 3


@pytest.mark.parametrize("kind", REGISTRY)
@pytest.mark.parametrize("how", ["query", "if_match"])
def test_a_stale_delete_is_refused_and_a_fresh_one_goes_through(client, world, kind, how):
    headers = world.headers["police_a"] if kind != "owner" else world.headers["admin"]
    client.patch(_url(world, kind), json=REGISTRY[kind][2][0], headers=headers)  # now at version 2

    def delete(version: int):
        if how == "query":
            return client.delete(f"{_url(world, kind)}?version={version}", headers=headers)
        return client.delete(_url(world, kind), headers={**headers, "If-Match": f'"{version}"'})

    _assert_stale(delete(1), 2)
    done = delete(2)
    assert done.status_code in (200, 204), done.get_json()
    if done.status_code == 200:  # removed or anonymised, not gone: a new version and its ETag
        assert done.get_json()["version"] == 3 and done.headers["ETag"] == '"3"'
    else:
        assert client.get(_url(world, kind), headers=headers).status_code == 404


@pytest.mark.parametrize("if_match, reason", [('W/"1"', "strong"), ('"1", "2"', "one"), ('"one"', "strong")])
def test_a_malformed_if_match_is_refused_precisely(client, world, if_match, reason):
    response = client.patch(
        _url(world, "lens"), json={"range_m": 40}, headers={**world.headers["police_a"], "If-Match": if_match}
    )
    assert response.status_code == 422 and reason in response.get_json()["message"]
    assert "If-Match" in response.get_json()["errors"]


def test_version_and_if_match_must_agree(client, world):
    response = client.patch(
        _url(world, "lens"),
        json={"range_m": 40, "version": 1},
        headers={**world.headers["police_a"], "If-Match": '"2"'},
    )
    assert response.status_code == 422 and "disagree" in response.get_json()["message"]


def test_the_openapi_documents_versions_etags_and_the_conflict_shape(client):
    document = client.get("/api/openapi.json").get_json()
    patch = document["paths"]["/api/v1/lenses/{lens_id}"]["patch"]
    assert any(p["in"] == "header" and p["name"] == "If-Match" for p in patch["parameters"])
    assert "ETag" in patch["responses"]["200"]["headers"]
    assert patch["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ConflictError")
    conflict = document["components"]["schemas"]["ConflictError"]["properties"]
    assert {"code", "message", "errors", "current"} <= set(conflict)
    delete = document["paths"]["/api/v1/lenses/{lens_id}"]["delete"]
    assert {(p["in"], p["name"]) for p in delete["parameters"]} >= {("header", "If-Match"), ("query", "version")}
    assert "version" in document["components"]["schemas"]["LensUpdate"]["properties"]
    action = document["paths"]["/api/v1/assignments/{assignment_id}/{action}"]["post"]
    assert "409" in action["responses"]


def test_an_import_bumps_the_version_so_an_edit_read_before_it_is_refused(client, session):
    load_dataset(session)
    import_register(session, io.BytesIO(csv_bytes(template_rows())), "register.csv", actor=SYSTEM)
    admin = User(username="admin-import", password_hash="!", role=Role.ADMIN)
    session.add(admin)
    session.flush()
    headers = {"Authorization": f"Bearer {accounts.create_token(session, SYSTEM, admin, 'tests')[1]}"}
    session.commit()
    lens_id = session.scalar(select(Lens.id).where(Lens.external_id == "00235-L-0001"))
    owner_id = session.scalar(select(Owner.id).where(Owner.external_id == "00235-O-001"))
    lens_etag = client.get(f"/api/v1/lenses/{lens_id}", headers=headers).headers["ETag"]
    owner_etag = client.get(f"/api/v1/owners/{owner_id}", headers=headers).headers["ETag"]

    rows = template_rows()
    rows[0]["bearing_deg"], rows[0]["owner_phone"] = "135", "0987654321"
    assert import_register(session, io.BytesIO(csv_bytes(rows)), "register.csv", actor=SYSTEM).ok
    session.commit()

    for path, etag in ((f"/api/v1/lenses/{lens_id}", lens_etag), (f"/api/v1/owners/{owner_id}", owner_etag)):
        stale = client.patch(
            path,
            json={"range_m": 25} if "lenses" in path else {"name": "Sửa tay"},
            headers={**headers, "If-Match": etag},
        )
        _assert_stale(stale, int(etag.strip('"')) + 1)


# --------------------------------------------------------------------------- requests and assignments on the API

SEEN_BY_TWO = {"type": "Point", "coordinates": [105.8303, 21.02005]}  # in front of the race's two neighbours, 1 km east


def test_a_stale_answer_tells_the_current_state_and_version(client, world):
    created = open_request(client, world)
    [assignment] = created.get_json()["assignments"]
    path = f"/api/v1/assignments/{assignment['id']}"
    consented = client.post(
        f"{path}/consent", json={"version": assignment["version"]}, headers=world.headers["police_a"]
    ).get_json()
    stale = client.post(f"{path}/decline", json={"version": assignment["version"]}, headers=world.headers["police_a"])
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["code"] == "stale_version"
    assert body["current"] == {"version": consented["version"], "status": "consented"}
    illegal = client.post(f"{path}/decline", json={}, headers=world.headers["police_a"])
    assert illegal.status_code == 409 and illegal.get_json()["code"] == "illegal_transition"
    assert illegal.get_json()["current"] == {"version": consented["version"], "status": "consented"}


def test_the_police_page_answers_409_to_a_stale_answer(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # the form's CSRF field is not what is tested here
    created = open_request(client, world).get_json()
    [assignment] = created["assignments"]
    client.post(f"/api/v1/assignments/{assignment['id']}/consent", json={}, headers=world.headers["police_a"])
    page = client.post(
        f"/requests/{created['id']}/assignments/{assignment['id']}/decline",
        data={"version": str(assignment["version"])},
        headers=world.headers["police_a"],
    )
    assert page.status_code == 409, page.get_data(as_text=True)[:500]
    # The page's language, Vietnamese, for the reason and for the field it names (not the code "version").
    assert "phiên bản: đã cũ: phiên bản hiện tại là" in page.get_data(as_text=True)


# --------------------------------------------------------------------------- a database of its own, for the races


class Race:
    def __init__(self, app, url: str, police: Actor, token: str, recorder_id: int):
        self.app, self.url, self.police, self.token, self.recorder_id = app, url, police, token, recorder_id
        self.factory = app.extensions["session_factory"]
        self.base_url = ""

    def http(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            data=json.dumps(body or {}).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw or b"{}")
            except ValueError:
                return error.code, {"raw": raw[:300].decode(errors="replace")}

    def open_request(self, incident: dict = IN_VIEW) -> dict:
        with self.app.test_client() as client:
            response = client.post(
                "/api/v1/footage-requests",
                json=request_body(incident=incident),
                headers={"Authorization": f"Bearer {self.token}"},
            )
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture(scope="module")
def race(database_server):
    """A commune with one owner, recorder and lens, its police (actor and token), and the app on a real port."""
    with app_of_its_own(database_server, "conflicts") as app:
        migrate.upgrade(app.extensions["engine"])
        with app.extensions["session_factory"]() as session:
            commune = admin_unit("RACE", "Xã Đua", bounds=COMMUNE_A_BOX)
            owner = Owner(
                external_id="owner-race", kind=OwnerKind.HOUSEHOLD, name="Chủ đua", commune=commune, phone="0912345678"
            )
            recorder = Recorder(
                external_id="rec-race",
                owner=owner,
                retention_days=14,
                point=from_shape(Point(105.82, 21.02), srid=4326),
            )
            lens = Lens(
                external_id="lens-race",
                recorder=recorder,
                point=from_shape(Point(105.8201, 21.02), srid=4326),
                bearing_deg=90.0,
                fov_deg=90.0,
                range_m=30.0,
            )
            user = User(username="police-race", password_hash="!", role=Role.COMMUNE_POLICE, admin_unit=commune)
            session.add_all([commune, owner, recorder, lens, user])
            for tag, lat in (("east-1", 21.02), ("east-2", 21.0201)):  # two owners whose lenses see SEEN_BY_TWO
                neighbour = Owner(
                    external_id=f"owner-{tag}",
                    kind=OwnerKind.BUSINESS,
                    name=f"Chủ {tag}",
                    commune=commune,
                    phone="0912345679",
                )
                box_recorder = Recorder(
                    external_id=f"rec-{tag}",
                    owner=neighbour,
                    retention_days=14,
                    point=from_shape(Point(105.83, lat), srid=4326),
                )
                session.add_all(
                    [
                        neighbour,
                        box_recorder,
                        Lens(
                            external_id=f"lens-{tag}",
                            recorder=box_recorder,
                            point=from_shape(Point(105.8301, lat), srid=4326),
                            bearing_deg=90.0,
                            fov_deg=90.0,
                            range_m=30.0,
                        ),
                    ]
                )
            session.flush()
            _, secret = accounts.create_token(session, SYSTEM, user, "race")
            police = Actor(
                "police-race",
                role=Role.COMMUNE_POLICE,
                user_id=user.id,
                unit_id=commune.id,
                readable_communes=frozenset({commune.id}),
                writable_communes=frozenset({commune.id}),
            )
            recorder_id = recorder.id
            session.commit()
        with served(app) as base_url:
            found = Race(app, app.config["DATABASE_URL"], police, secret, recorder_id)
            found.base_url = base_url
            yield found


def _load(session, assignment_id: int) -> Assignment:
    assignment = session.get(Assignment, assignment_id)
    assert [a.status for a in assignment.request.assignments]  # everything the transition reads is loaded
    return assignment


@pytest.mark.parametrize("read_ends_first", [True, False])
def test_an_answer_changed_meanwhile_in_another_session_is_a_stale_version(race, backend, read_ends_first):
    if not read_ends_first and backend == "spatialite":
        pytest.skip(
            "SQLite: a writer's transaction begins with the write lock, so it never reads a row that "
            "another transaction then changes"
        )
    [line] = race.open_request()["assignments"]
    late = race.factory()
    try:
        loaded = _load(late, line["id"])
        if read_ends_first:
            late.commit()  # as a page read before the other answer; the loaded state is kept (expire_on_commit off)
        with race.factory() as first:
            transition_assignment(first, race.police, _load(first, line["id"]), "consent")
            first.commit()
            stored_version = first.get(Assignment, line["id"]).version

        with pytest.raises(StaleVersion) as refused:
            transition_assignment(late, race.police, loaded, "decline")
        assert refused.value.current == {"version": stored_version, "status": "consented"}
        assert status_of(refused.value) == 409 and str(stored_version) in refused.value.message
        late.rollback()  # the session is usable again at once
        assert late.get(Assignment, line["id"]).status.value == "consented"
    finally:
        late.close()


def test_a_stale_flush_is_a_stale_version_not_a_pending_rollback(race, monkeypatch):
    """Were the row lock ever missed, the flush's StaleDataError still becomes a 409 and the session rolls back."""
    [line] = race.open_request()["assignments"]
    late = race.factory()
    try:
        loaded = _load(late, line["id"])
        late.commit()
        with race.factory() as first:
            transition_assignment(first, race.police, _load(first, line["id"]), "consent")
            first.commit()

        def as_read(session, model, row_id, *columns):  # what the session holds, as if nobody had changed it
            obj = session.get(model, row_id)
            return tuple(getattr(obj, column.key) for column in columns)

        monkeypatch.setattr(workflow, "locked_row", as_read)
        with pytest.raises(StaleVersion) as refused:
            transition_assignment(late, race.police, loaded, "decline")
        assert f"assignment {line['id']}" in refused.value.message
        late.rollback()
        assert late.get(Assignment, line["id"]).status.value == "consented"
    finally:
        late.close()


def test_a_unique_key_taken_by_a_racing_insert_is_a_conflict(race):
    def new_lens(tag: str) -> Lens:
        return Lens(
            external_id=tag,
            recorder_id=race.recorder_id,
            point=from_shape(Point(105.8203, 21.02), srid=4326),
            fov_deg=90.0,
            range_m=30.0,
            status=LensStatus.ACTIVE,
        )

    with race.factory() as first:
        add_new(first, SYSTEM, new_lens("lens-twice"), "lens")
        first.commit()
    with race.factory() as second:  # its uniqueness check ran before the first committed
        with pytest.raises(Conflict) as refused:
            add_new(second, SYSTEM, new_lens("lens-twice"), "lens")
        assert "external_id" in refused.value.errors and status_of(refused.value) == 409
        second.rollback()
        with pytest.raises(IntegrityError) as raw:  # and the one table says the same of the raw error
            second.add(new_lens("lens-twice"))
            second.flush()
        assert status_of(as_domain_error(raw.value)) == 409


def _at_once(calls) -> list:
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    return results


@pytest.mark.parametrize("named_version", [True, False], ids=["version", "no-version"])
def test_consent_and_decline_at_once_give_one_answer_and_one_409(race, named_version):
    """Without a version, on PostGIS the loser mostly read the row before the winner committed (the locked path:
    stale_version); on SpatiaLite the write lock orders them and the loser sees the answer (illegal_transition)."""
    for _ in range(ROUNDS):
        [line] = race.open_request()["assignments"]
        path = f"/api/v1/assignments/{line['id']}"
        body = {"version": line["version"]} if named_version else {}
        results = _at_once(
            [lambda: race.http("POST", f"{path}/consent", body), lambda: race.http("POST", f"{path}/decline", body)]
        )
        assert sorted(status for status, _ in results) == [200, 409], results
        (won,) = [body for status, body in results if status == 200]
        (lost,) = [body for status, body in results if status == 409]
        assert lost["code"] in ("stale_version", "illegal_transition") and set(lost) >= {"code", "message", "errors"}
        assert lost["current"] == {"version": won["version"], "status": won["status"]}


def test_two_creates_of_one_external_id_at_once_give_one_201_and_one_409(race):
    for round_number in range(ROUNDS):
        body = {
            "external_id": f"lens-race-{round_number}",
            "recorder_id": race.recorder_id,
            "point": {"type": "Point", "coordinates": [105.8204, 21.02]},
        }
        results = _at_once([lambda: race.http("POST", "/api/v1/lenses", body)] * 2)
        assert sorted(status for status, _ in results) == [201, 409], results
        (lost,) = [body for status, body in results if status == 409]
        assert lost["code"] == "conflict" and "external_id" in lost["errors"]


def test_the_last_two_answers_at_once_resolve_the_request(race):
    """Answers to one request apply one at a time, each seeing the others: whichever comes last resolves it."""
    for _ in range(ROUNDS):
        request = race.open_request(SEEN_BY_TWO)
        first, second = request["assignments"]
        results = _at_once(
            [
                lambda: race.http("POST", f"/api/v1/assignments/{first['id']}/decline", {}),
                lambda: race.http("POST", f"/api/v1/assignments/{second['id']}/decline", {}),
            ]
        )
        assert [status for status, _ in results] == [200, 200], results
        with race.app.test_client() as client:
            stored = client.get(
                f"/api/v1/footage-requests/{request['id']}", headers={"Authorization": f"Bearer {race.token}"}
            ).get_json()
        assert stored["status"] == "resolved" and stored["outcome"]["declined"] == 2, stored


def _owner_form(race, token: str, form: dict):
    """One owner's browser: open the link page (cookie and CSRF token), then a submit to call at once."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())
    with opener.open(f"{race.base_url}/o/{token}", timeout=60) as page:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
    data = urllib.parse.urlencode({**form, "csrf_token": csrf}).encode()

    def submit() -> tuple[int, str]:
        try:
            with opener.open(urllib.request.Request(f"{race.base_url}/o/{token}", data=data), timeout=60) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    return submit


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 303 after an answer is the answer's status here, not the page it points to


def test_two_owner_form_answers_at_once_record_one_and_show_it_to_the_other(race):
    for _ in range(ROUNDS):
        [line] = race.open_request()["assignments"]
        with race.factory() as session:
            assignment = session.get(Assignment, line["id"])
            token = assignment_link(session, assignment)
            session.commit()
        submits = [
            _owner_form(race, token, {"action": "consent", "handover": "police_copy"}),
            _owner_form(race, token, {"action": "decline"}),
        ]
        results = _at_once(submits)
        statuses = sorted(status for status, _ in results)
        assert statuses == [303, 409], [(status, text[:300]) for status, text in results]
        (refused,) = [text for status, text in results if status == 409]
        assert 'data-refusal="already_answered"' in refused
        with race.factory() as session:
            assert session.get(Assignment, line["id"]).status in (AssignmentStatus.CONSENTED, AssignmentStatus.DECLINED)


def test_the_openapi_error_component_is_the_shape_every_error_has(client):
    """flask-smorest's default Error schema (code as an integer, no `current`) was documented before."""
    error = client.get("/api/openapi.json").json["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "errors", "current", "request_id"}
    assert error["properties"]["code"]["type"] == "string"
