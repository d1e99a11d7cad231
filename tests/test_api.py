"""The registry API through HTTP: CRUD, filters, GeoJSON, precise errors, nothing half-written."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from camera_registry.models import AdminLevel, AdminUnit, AuditEvent, Lens, Owner, SharingCommitment, Site
from camera_registry.timezones import local_today

POINT_A = {"type": "Point", "coordinates": [105.821, 21.021]}


def post(client, world, path, body, role="police_a"):
    return client.post(path, json=body, headers=world.headers[role])


def lens_body(world, **overrides):
    return {
        "external_id": "L-new",
        "recorder_id": world.objects["a"]["recorder"],
        "point": POINT_A,
        "bearing_deg": 45,
        "fov_deg": 90,
        "range_m": 30,
        **overrides,
    }


def test_openapi_document_validates(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert "/api/v1/lenses" in document["paths"] and "bearerAuth" in document["components"]["securitySchemes"]


def test_docs_page_uses_local_assets(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "//cdn" not in page and "unpkg" not in page


def test_create_read_update_lens(client, world):
    created = post(client, world, "/api/v1/lenses", lens_body(world))
    assert created.status_code == 201, created.get_json()
    lens = created.get_json()
    assert lens["commune_code"] == "A" and lens["shared"] is True and lens["point"]["coordinates"] == [105.821, 21.021]
    changed = client.patch(
        f"/api/v1/lenses/{lens['id']}",
        json={"bearing_deg": None, "fov_deg": 360, "kind": "dome"},
        headers=world.headers["police_a"],
    )
    assert changed.status_code == 200
    assert (changed.get_json()["bearing_deg"], changed.get_json()["kind"]) == (None, "dome")
    assert client.get(f"/api/v1/lenses/{lens['id']}", headers=world.headers["admin"]).get_json()["fov_deg"] == 360


def test_moving_a_lens_into_another_commune_is_refused_for_police(client, world, session):
    lens_id = world.objects["a"]["lens"]
    moved = client.patch(
        f"/api/v1/lenses/{lens_id}",
        json={"point": {"type": "Point", "coordinates": [105.87, 21.03]}},
        headers=world.headers["police_a"],
    )
    assert moved.status_code == 403
    session.expire_all()
    assert session.get(Lens, lens_id).commune_id == world.commune_a.id  # nothing half-written


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"point": {"type": "Point", "coordinates": [2.35, 48.85]}}, "point", "outside Vietnam"),
        ({"point": {"type": "Point", "coordinates": [21.02, 105.82]}}, "point", "lon comes before lat"),
        ({"bearing_deg": 360}, "bearing_deg", "less than 360"),
        ({"bearing_deg": -1}, "bearing_deg", "greater than or equal to 0"),
        ({"fov_deg": 0}, "fov_deg", "greater than 0"),
        ({"fov_deg": 361}, "fov_deg", "less than or equal to 360"),
        ({"point": {"type": "Point", "coordinates": ["a", 1]}}, "point", "malformed"),
        ({"point": {"type": "LineString", "coordinates": [[105.8, 21.0], [105.9, 21.1]]}}, "point", "must be Point"),
        ({"point": "POINT(105.8 21.0)"}, "point", "malformed GeoJSON"),
        ({"recorder_id": 999999}, "recorder_id", "no recorder 999999"),
        ({"colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_bad_lens_input_is_refused_precisely(client, world, session, overrides, field, words):
    before = session.scalar(select(func.count(Lens.id)))
    response = post(client, world, "/api/v1/lenses", lens_body(world, **overrides))
    assert response.status_code == 422, response.get_json()
    error = response.get_json()
    assert error["code"] == "validation_failed"
    assert field in error["errors"] and words in " ".join(error["errors"][field]), error
    assert session.scalar(select(func.count(Lens.id))) == before


@pytest.mark.parametrize("days", [0, 366])
def test_retention_outside_1_to_365_is_refused(client, world, days):
    response = post(
        client,
        world,
        "/api/v1/recorders",
        {"external_id": "R-new", "owner_id": world.objects["a"]["owner"], "point": POINT_A, "retention_days": days},
    )
    assert response.status_code == 422
    assert "retention_days" in response.get_json()["errors"]


def test_unknown_commune_code_is_named(client, world):
    response = post(
        client,
        world,
        "/api/v1/owners",
        {"external_id": "O-new", "kind": "household", "name": "Hộ mới", "commune_code": "NOPE"},
        role="admin",
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"commune_code": ["no commune has code 'NOPE'"]}


CLOSED_COMMUNE_WRITES = {
    "create owner": ("post", "/api/v1/owners", {"external_id": "O-new", "kind": "household", "name": "Hộ mới"}),
    "update owner": ("patch", "/api/v1/owners/{owner}", {}),
    "create site": ("post", "/api/v1/sites", {"code": "S-new", "name": "Điểm mới"}),
    "update site": ("patch", "/api/v1/sites/{site}", {}),
}


@pytest.mark.parametrize("write", CLOSED_COMMUNE_WRITES, ids=list(CLOSED_COMMUNE_WRITES))
@pytest.mark.parametrize("case", ["closed yesterday", "a province"])
def test_api_writes_refuse_a_commune_that_is_not_current_as_the_import_does(client, world, session, write, case):
    if case == "closed yesterday":
        code, words = "OLD", "Xã Cũ (OLD) is not a current commune; use the commune that replaced it"
        session.add(
            AdminUnit(
                code=code,
                name="Xã Cũ",
                level=AdminLevel.COMMUNE,
                parent=world.province,
                valid_to=local_today() - timedelta(days=1),
            )
        )
        session.commit()
    else:
        code, words = "P", "P is Tỉnh Thử, a province, not a commune"
    method, path, body = CLOSED_COMMUNE_WRITES[write]
    path = path.format(**world.objects["a"])
    before = {
        "owners": session.scalar(select(func.count(Owner.id))),
        "sites": session.scalar(select(func.count(Site.id))),
    }
    response = getattr(client, method)(path, json={**body, "commune_code": code}, headers=world.headers["admin"])
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"] == {"commune_code": [words]}
    session.expire_all()
    after = {
        "owners": session.scalar(select(func.count(Owner.id))),
        "sites": session.scalar(select(func.count(Site.id))),
    }
    assert after == before
    assert session.get(Owner, world.objects["a"]["owner"]).commune_id == world.commune_a.id
    assert session.get(Site, world.objects["a"]["site"]).commune_id == world.commune_a.id


def test_duplicate_external_id_is_a_conflict(client, world):
    response = post(client, world, "/api/v1/lenses", lens_body(world, external_id="lens-a"))
    assert response.status_code == 409
    assert "external_id" in response.get_json()["errors"]


def test_bad_phone_and_email_are_refused(client, world):
    response = post(
        client,
        world,
        "/api/v1/owners",
        {
            "external_id": "O-2",
            "kind": "business",
            "name": "Cửa hàng",
            "commune_code": "A",
            "phone": "12345",
            "email": "not-an-email",
        },
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"phone", "email"}


def test_an_owners_message_language_is_set_and_read_through_the_api(client, world):
    body = {"external_id": "O-3", "kind": "household", "name": "Hộ ông Smith", "commune_code": "A", "language": "en"}
    created = post(client, world, "/api/v1/owners", body)
    assert created.status_code == 201 and created.get_json()["language"] == "en"
    owner = created.get_json()
    changed = client.patch(
        f"/api/v1/owners/{owner['id']}",
        headers={**world.headers["police_a"], "If-Match": f'"{owner["version"]}"'},
        json={"language": None},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["language"] is None
    refused = post(client, world, "/api/v1/owners", {**body, "external_id": "O-4", "language": "fr"})
    assert refused.status_code == 422 and refused.get_json()["errors"] == {"language": ["Must be one of: vi, en."]}


def test_lens_filters_bbox_near_and_geojson(client, world):
    headers = world.headers["admin"]
    near = client.get("/api/v1/lenses?near=105.8201,21.02&radius_m=50", headers=headers).get_json()
    assert [lens["external_id"] for lens in near] == ["lens-a"]
    boxed = client.get("/api/v1/lenses?bbox=105.85,21.0,105.9,21.05", headers=headers).get_json()
    assert [lens["external_id"] for lens in boxed] == ["lens-b"]
    by_commune = client.get("/api/v1/recorders?commune_code=B", headers=headers).get_json()
    assert [r["external_id"] for r in by_commune] == ["rec-b"]
    response = client.get("/api/v1/lenses", headers={**headers, "Accept": "application/geo+json"})
    assert response.content_type == "application/geo+json"
    collection = json.loads(response.data)
    assert collection["type"] == "FeatureCollection" and collection["numberMatched"] == 2
    assert {f["geometry"]["type"] for f in collection["features"]} == {"Point"}
    assert "point" not in collection["features"][0]["properties"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("near=105.82,21.02", "radius_m"),
        ("bbox=105.9,21.0,105.8,21.05", "bbox"),
        ("near=10,10&radius_m=100", "near"),
        ("near=105.82,21.02&radius_m=999999", "radius_m"),
        ("page_size=100000", "page_size"),
    ],
)
def test_bad_filters_are_refused(client, world, query, field):
    response = client.get(f"/api/v1/lenses?{query}", headers=world.headers["admin"])
    assert response.status_code == 422
    assert field in response.get_json()["errors"], response.get_json()


def test_paging_header(client, world):
    response = client.get("/api/v1/lenses?page_size=1&page=2", headers=world.headers["admin"])
    assert json.loads(response.headers["X-Pagination"])["total"] == 2
    assert len(response.get_json()) == 1


def test_commitment_history_sign_renew_revoke(client, world, session):
    headers = world.headers["police_a"]
    first = world.objects["a"]["commitment"]
    renewed = client.post(
        f"/api/v1/commitments/{first}/renew",
        json={"valid_until": "2032-01-01T00:00:00+07:00", "channel": "web"},
        headers=headers,
    )
    assert renewed.status_code == 201
    revoked = client.post(f"/api/v1/commitments/{first}/revoke", json={}, headers=headers)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    again = client.post(f"/api/v1/commitments/{first}/revoke", json={}, headers=headers)
    assert again.status_code == 409
    owner = world.objects["a"]["owner"]
    history = client.get(f"/api/v1/commitments?owner_id={owner}", headers=headers).get_json()
    assert len(history) == 2 and sum(1 for c in history if c["revoked_at"]) == 1
    active = client.get(f"/api/v1/commitments?owner_id={owner}&active=true", headers=headers).get_json()
    assert [c["id"] for c in active] == [renewed.get_json()["id"]]
    assert client.get(f"/api/v1/lenses/{world.objects['a']['lens']}", headers=headers).get_json()["shared"] is True
    client.post(f"/api/v1/commitments/{renewed.get_json()['id']}/revoke", json={}, headers=headers)
    assert client.get(f"/api/v1/lenses/{world.objects['a']['lens']}", headers=headers).get_json()["shared"] is False
    assert session.scalar(select(func.count(SharingCommitment.id)).where(SharingCommitment.owner_id == owner)) == 2


def test_commitment_must_end_after_signing(client, world):
    response = post(
        client,
        world,
        "/api/v1/commitments",
        {
            "owner_id": world.objects["a"]["owner"],
            "signed_at": "2026-01-01T00:00:00+07:00",
            "valid_until": "2025-01-01T00:00:00+07:00",
            "channel": "paper",
            "text_version": "2025.1",
        },
    )
    assert response.status_code == 422 and "valid_until" in response.get_json()["errors"]


def test_reading_contacts_is_audited_and_anonymising_erases_them(client, world, session):
    owner = world.objects["a"]["owner"]
    reads = select(func.count(AuditEvent.id)).where(AuditEvent.action == "owner.contacts_read")
    before = session.scalar(reads)
    client.get(f"/api/v1/owners/{owner}", headers=world.headers["police_a"])
    client.get(f"/api/v1/owners/{owner}", headers=world.headers["province_staff"])  # sees no contacts: no event
    assert session.scalar(reads) == before + 1
    erased = client.delete(f"/api/v1/owners/{owner}", headers=world.headers["police_a"]).get_json()
    assert (erased["name"], erased["phone"], erased["email"], erased["address"]) == ("Đã ẩn danh", None, None, None)


def test_site_with_recorders_cannot_be_deleted(client, world):
    response = client.delete(f"/api/v1/sites/{world.objects['a']['site']}", headers=world.headers["police_a"])
    assert response.status_code == 409 and "recorders" in response.get_json()["errors"]


def box_polygon(min_lon, min_lat, max_lon, max_lat):
    return [[[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat], [min_lon, min_lat]]]


def test_redrawing_communes_moves_their_cameras(client, world, session):
    headers = world.headers["admin"]
    shrink_a = client.patch(
        "/api/v1/admin-units/A",
        headers=headers,
        json={"boundary": {"type": "Polygon", "coordinates": box_polygon(105.83, 21.00, 105.85, 21.05)}},
    )
    assert shrink_a.status_code == 200
    session.expire_all()
    assert session.get(Lens, world.objects["a"]["lens"]).commune_id is None
    grow_b = client.patch(
        "/api/v1/admin-units/B",
        headers=headers,
        json={
            "boundary": {
                "type": "MultiPolygon",
                "coordinates": [box_polygon(105.80, 21.00, 105.83, 21.05), box_polygon(105.85, 21.00, 105.90, 21.05)],
            }
        },
    )
    assert grow_b.status_code == 200
    session.expire_all()
    assert session.get(Lens, world.objects["a"]["lens"]).commune_id == world.commune_b.id


def test_unknown_api_path_is_json_404(client, world):
    response = client.get("/api/v1/nothing-here", headers=world.headers["admin"])
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


def test_docs_assets_are_served_by_the_app(client):
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        response = client.get(f"/static/vendor/swagger-ui/{name}")
        assert response.status_code == 200 and len(response.data) > 1000, name


def test_own_token_lifecycle_through_the_api(client, world):
    created = client.post(
        "/api/v1/users/me/tokens", json={"name": "điện thoại", "expires_in_days": 30}, headers=world.headers["police_a"]
    )
    assert created.status_code == 201
    secret = created.get_json()["secret"]
    mine = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"}).get_json()
    assert (mine["username"], mine["role"], mine["admin_unit_code"]) == ("police-a", "commune_police", "A")
    revoked = client.delete(f"/api/v1/users/me/tokens/{created.get_json()['id']}", headers=world.headers["police_a"])
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_creating_a_user_with_a_short_password_names_the_field(client, world):
    response = client.post(
        "/api/v1/users",
        json={"username": "x.police", "password": "short", "role": "commune_police", "admin_unit_code": "A"},
        headers=world.headers["admin"],
    )
    assert response.status_code == 422 and "password" in response.get_json()["errors"]
