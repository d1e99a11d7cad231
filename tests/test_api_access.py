"""The authorization matrix: every registry endpoint, called as every role, anonymous,
and the police of another commune. Each call runs in its own savepoint so the
calls of one endpoint do not see each other's writes."""

from __future__ import annotations

import io

import pytest
from conftest import ROLES
from import_support import GOOD_ROW, register


def register_upload() -> dict:
    """A one-row register for commune A, as a multipart form."""
    return {"file": (io.BytesIO(register(GOOD_ROW.format(n=1))), "register.csv")}


POINT_A = {"type": "Point", "coordinates": [105.821, 21.021]}
READ = {"anonymous": 401, "admin": 200, "province_staff": 200, "district_staff": 200, "police_a": 200, "police_b": 404}
LIST = {"anonymous": 401, "admin": 200, "province_staff": 200, "district_staff": 200, "police_a": 200, "police_b": 200}
CREATE = {
    "anonymous": 401,
    "admin": 201,
    "province_staff": 403,
    "district_staff": 403,
    "police_a": 201,
    "police_b": 403,
}
# Creating under a parent record in commune A: the other commune's police cannot even name it.
CREATE_UNDER_A = {**CREATE, "police_b": 422}
# Changing a record of commune A: the other commune's police do not find it.
CHANGE = {**CREATE, "admin": 200, "police_a": 200, "police_b": 404}
DELETE = {**CHANGE, "admin": 204, "police_a": 204}
ADMIN_ONLY_CREATE = {**CREATE, "police_a": 403}
ADMIN_ONLY_CHANGE = {**ADMIN_ONLY_CREATE, "admin": 200}
EVERYONE = {**LIST}

MATRIX = {
    "list admin units": ("GET", "/api/v1/admin-units", None, EVERYONE),
    "read admin unit": ("GET", "/api/v1/admin-units/A", None, EVERYONE),
    "create admin unit": (
        "POST",
        "/api/v1/admin-units",
        lambda o: {"code": "C", "name": "Xã C", "level": "commune", "parent_code": "P"},
        ADMIN_ONLY_CREATE,
    ),
    "change admin unit": ("PATCH", "/api/v1/admin-units/A", lambda o: {"name": "Xã A mới"}, ADMIN_ONLY_CHANGE),
    "list sites": ("GET", "/api/v1/sites", None, LIST),
    "read site": ("GET", "/api/v1/sites/{site}", None, READ),
    "create site": (
        "POST",
        "/api/v1/sites",
        lambda o: {"code": "new-site", "name": "Điểm mới", "commune_code": "A"},
        CREATE,
    ),
    "change site": ("PATCH", "/api/v1/sites/{site}", lambda o: {"name": "Điểm đổi tên"}, CHANGE),
    "delete site": ("DELETE", "/api/v1/sites/{spare_site}", None, DELETE),
    "list owners": ("GET", "/api/v1/owners", None, LIST),
    "read owner": ("GET", "/api/v1/owners/{owner}", None, READ),
    "create owner": (
        "POST",
        "/api/v1/owners",
        lambda o: {"external_id": "new-owner", "kind": "business", "name": "Cửa hàng", "commune_code": "A"},
        CREATE,
    ),
    "change owner": ("PATCH", "/api/v1/owners/{owner}", lambda o: {"name": "Tên mới"}, CHANGE),
    "anonymise owner": ("DELETE", "/api/v1/owners/{owner}", None, CHANGE),
    "list recorders": ("GET", "/api/v1/recorders", None, LIST),
    "read recorder": ("GET", "/api/v1/recorders/{recorder}", None, READ),
    "create recorder": (
        "POST",
        "/api/v1/recorders",
        lambda o: {"external_id": "new-rec", "owner_id": o["owner"], "point": POINT_A, "retention_days": 30},
        CREATE_UNDER_A,
    ),
    "change recorder": ("PATCH", "/api/v1/recorders/{recorder}", lambda o: {"retention_days": 20}, CHANGE),
    "remove recorder": ("DELETE", "/api/v1/recorders/{recorder}", None, CHANGE),
    "list lenses": ("GET", "/api/v1/lenses", None, LIST),
    "read lens": ("GET", "/api/v1/lenses/{lens}", None, READ),
    "create lens": (
        "POST",
        "/api/v1/lenses",
        lambda o: {"external_id": "new-lens", "recorder_id": o["recorder"], "point": POINT_A},
        CREATE_UNDER_A,
    ),
    "change lens": ("PATCH", "/api/v1/lenses/{lens}", lambda o: {"bearing_deg": 10}, CHANGE),
    "remove lens": ("DELETE", "/api/v1/lenses/{lens}", None, CHANGE),
    "list commitments": ("GET", "/api/v1/commitments", None, LIST),
    "read commitment": ("GET", "/api/v1/commitments/{commitment}", None, READ),
    "sign commitment": (
        "POST",
        "/api/v1/commitments",
        lambda o: {
            "owner_id": o["owner"],
            "valid_until": "2030-01-01T00:00:00+07:00",
            "channel": "paper",
            "text_version": "2025.1",
        },
        CREATE_UNDER_A,
    ),
    "renew commitment": (
        "POST",
        "/api/v1/commitments/{commitment}/renew",
        lambda o: {"valid_until": "2031-01-01T00:00:00+07:00", "channel": "web"},
        {**CREATE, "police_b": 404},
    ),
    "revoke commitment": (
        "POST",
        "/api/v1/commitments/{commitment}/revoke",
        lambda o: {"reason": "chủ nhà chuyển đi"},
        CHANGE,
    ),
    # Another commune's rows in a file are row errors (422), not a refusal of the whole role.
    "import register": (
        "POST",
        "/api/v1/imports?dry_run=true",
        "register",
        {**CREATE, "admin": 200, "police_a": 200, "police_b": 422},
    ),
    "list users": ("GET", "/api/v1/users", None, {**ADMIN_ONLY_CHANGE}),
    "create user": (
        "POST",
        "/api/v1/users",
        lambda o: {
            "username": "new.police",
            "password": "a-long-password",
            "role": "commune_police",
            "admin_unit_code": "A",
        },
        ADMIN_ONLY_CREATE,
    ),
    "deactivate user": ("POST", "/api/v1/users/police-b/deactivate", None, ADMIN_ONLY_CHANGE),
    "read own account": ("GET", "/api/v1/users/me", None, EVERYONE),
    "list own tokens": ("GET", "/api/v1/users/me/tokens", None, EVERYONE),
    "create own token": (
        "POST",
        "/api/v1/users/me/tokens",
        lambda o: {"name": "laptop"},
        {**EVERYONE, "admin": 201, "province_staff": 201, "district_staff": 201, "police_a": 201, "police_b": 201},
    ),
}


@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_authorization_matrix(endpoint, client, world, db_connection):
    method, path, body, expected = MATRIX[endpoint]
    objects = world.objects["a"]
    seen = {}
    for role in ROLES:
        savepoint = db_connection.begin_nested()
        if body == "register":
            response = client.open(
                path,
                method=method,
                headers=world.headers[role],
                data=register_upload(),
                content_type="multipart/form-data",
            )
        else:
            response = client.open(
                path.format(**objects), method=method, headers=world.headers[role], json=body(objects) if body else None
            )
        savepoint.rollback()
        seen[role] = response.status_code
        if response.status_code >= 400:
            error = response.get_json()
            assert set(error) == {"code", "message", "errors", "request_id"}, error
            assert error["request_id"] == response.headers["X-Request-Id"]
    assert seen == expected


def test_lists_hold_only_what_the_role_may_read(client, world):
    a, b = world.objects["a"], world.objects["b"]
    expected = {
        "admin": {a["lens"], b["lens"]},
        "province_staff": {a["lens"], b["lens"]},
        "district_staff": {a["lens"]},
        "police_a": {a["lens"]},
        "police_b": {b["lens"]},
    }
    for role, lenses in expected.items():
        listed = {lens["id"] for lens in client.get("/api/v1/lenses", headers=world.headers[role]).get_json()}
        assert listed == lenses, role


def test_contacts_only_for_admin_and_the_owners_commune_police(client, world):
    owner = world.objects["a"]["owner"]
    for role, shown in (("admin", True), ("police_a", True), ("province_staff", False), ("district_staff", False)):
        card = client.get(f"/api/v1/owners/{owner}", headers=world.headers[role]).get_json()
        assert card["contacts_shown"] is shown, role
        assert (card["phone"] == "0912345678") is shown and (card["email"] is not None) is shown, role
