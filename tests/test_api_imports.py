"""POST /api/v1/imports: the importer through HTTP, with its all-or-nothing report."""

from __future__ import annotations

import io

from import_support import GOOD_ROW, register
from sqlalchemy import func, select

from camera_registry.models import Lens


def upload(client, world, content: bytes, role="police_a", dry_run=False, name="register.csv"):
    return client.post(
        f"/api/v1/imports{'?dry_run=true' if dry_run else ''}",
        headers=world.headers[role],
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def lenses(session) -> int:
    return session.scalar(select(func.count(Lens.id)))


def test_import_dry_run_then_real_then_again(client, world, session):
    content = register(GOOD_ROW.format(n=1), GOOD_ROW.format(n=2))
    before = lenses(session)
    dry = upload(client, world, content, dry_run=True)
    assert dry.status_code == 200 and dry.get_json()["lenses"]["created"] == 2 and dry.get_json()["dry_run"]
    assert lenses(session) == before
    done = upload(client, world, content)
    assert done.status_code == 200 and done.get_json()["lenses"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert lenses(session) == before + 2
    again = upload(client, world, content)
    assert again.get_json()["lenses"] == {"created": 0, "updated": 0, "unchanged": 2}
    assert lenses(session) == before + 2


def test_bad_rows_reject_the_whole_file_with_every_cell_named(client, world, session):
    bad_bearing = GOOD_ROW.format(n=2).replace(",90,90,30,", ",400,90,30,")
    other_commune = GOOD_ROW.format(n=3).replace("A,site-a", "B,site-b")
    before = lenses(session)
    response = upload(client, world, register(GOOD_ROW.format(n=1), bad_bearing, other_commune))
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "validation_failed" and "nothing was imported" in body["message"]
    assert "row 3, column bearing_deg" in body["errors"]
    assert any(key.startswith("row 4,") for key in body["errors"])
    assert lenses(session) == before


def test_staff_may_not_import(client, world):
    response = upload(client, world, register(GOOD_ROW.format(n=1)), role="province_staff")
    assert response.status_code == 403


def test_missing_file_and_unknown_format(client, world):
    missing = client.post(
        "/api/v1/imports", headers=world.headers["police_a"], data={}, content_type="multipart/form-data"
    )
    assert missing.status_code == 422 and "file" in missing.get_json()["errors"]
    odd = upload(client, world, b"whatever", name="register.ods")
    assert odd.status_code == 422 and "file" in odd.get_json()["errors"]


def test_oversize_upload_is_413(client, world, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = upload(client, world, register(*[GOOD_ROW.format(n=n) for n in range(40)]))
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"
