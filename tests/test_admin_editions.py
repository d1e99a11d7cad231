"""The admins' editions page (issue 15, item 2): the editions in force and the bundled one, and loading an edition
(the bundled one or an uploaded GeoJSON file) always as a dry run first that writes nothing, then confirmed with the
same inputs; admins only, and every bad input a 4xx naming its field."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from shapely.geometry import box, mapping
from sqlalchemy import func, select

from camera_registry.models import AdminUnit, AuditEvent
from camera_registry.timezones import local_today

FIRST, LATER = "2026-01-01", "2026-04-30"


def _feature(code, name, level, parent=None, bounds=None):
    properties = {"code": code, "name": name, "level": level, "parent_code": parent}
    return {"type": "Feature", "properties": properties, "geometry": mapping(box(*bounds)) if bounds else None}


def _edition_file(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


WEST, EAST = (106.50, 21.00, 106.51, 21.01), (106.51, 21.00, 106.52, 21.01)
FIRST_EDITION = _edition_file(
    _feature("90", "Tỉnh Mới", "province"),
    _feature("90001", "Phường Tây", "Phường", "90", WEST),
    _feature("90002", "Phường Đông", "Phường", "90", EAST),
)
#: Phường Đông joins Phường Tây, whose code the merged ward keeps, and which is renamed.
LATER_EDITION = _edition_file(
    _feature("90", "Tỉnh Mới", "province"),
    _feature("90001", "Phường Tây Đông", "Phường", "90", (106.50, 21.00, 106.52, 21.01)),
)


def _csrf(client, headers) -> str:
    html = client.get("/admin/editions", headers=headers).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _post(client, headers, step, **form):
    form.setdefault("csrf_token", _csrf(client, headers))
    return client.post(f"/admin/editions/{step}", data=form, headers=headers, content_type="multipart/form-data")


def _upload(client, headers, content, effective, step="dry-run", name="edition.geojson", **form):
    return _post(client, headers, step, source="upload", effective=effective, file=(io.BytesIO(content), name), **form)


def _units(session) -> int:
    return session.scalar(select(func.count()).select_from(AdminUnit))


def _loads(session) -> int:
    return session.scalar(select(func.count()).where(AuditEvent.action == "admin_units.load_edition"))


def _staged(html) -> str:
    return re.search(r'name="staged" value="([^"]+)"', html).group(1)


def _refused_fields(html) -> set[str]:
    return set(re.findall(r'class="error" role="alert" data-field="([^"]+)"', html))


def test_only_admins_open_the_page_or_load(client, world):
    for role in ("police_a", "district_staff", "province_staff"):
        assert client.get("/admin/editions", headers=world.headers[role]).status_code == 403
        refused = client.post(
            "/admin/editions/dry-run", data={"source": "bundled", "effective": FIRST}, headers=world.headers[role]
        )
        assert refused.status_code in (400, 403)  # no form of their own to take a CSRF token from
    assert client.get("/admin/editions").status_code == 302
    assert 'href="/admin/editions"' in client.get("/admin", headers=world.headers["admin"]).get_data(as_text=True)


def test_a_post_without_the_forms_csrf_token_is_refused(client, world, session):
    refused = client.post(
        "/admin/editions/load", data={"source": "bundled", "effective": FIRST}, headers=world.headers["admin"]
    )
    assert refused.status_code == 400 and _loads(session) == 0


def test_the_page_shows_the_units_in_force_and_the_bundled_edition(client, world):
    html = client.get("/admin/editions", headers=world.headers["admin"]).get_data(as_text=True)
    row = re.search(r'<tr data-from="">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r"<td>(\d+)</td>", row) == ["1", "1", "2"] and "P Tỉnh Thử" in row
    assert "vn-2026-07-25: 34 tỉnh, thành phố; có ranh giới cho 01, 25, 79." in html
    english = client.get("/admin/editions?lang=en", headers=world.headers["admin"]).get_data(as_text=True)
    assert "Editions of the administrative units" in english and "Dry run" in english


def test_an_uploaded_edition_is_dry_run_writing_nothing_then_loaded_as_confirmed(client, world, session):
    admin = world.headers["admin"]
    before = _units(session)
    dry = _upload(client, admin, FIRST_EDITION, FIRST, provinces="90")
    html = dry.get_data(as_text=True)
    assert dry.status_code == 200 and 'data-dry-run="yes"' in html and 'id="confirm-form"' in html
    assert "3" in re.search(r'id="report-counts">(.*?)</p>', html, re.S).group(1)
    assert "90, 90001, 90002" in html
    session.expire_all()
    assert (_units(session), _loads(session)) == (before, 0)

    loaded = _post(
        client, admin, "load", source="upload", effective=FIRST, provinces="90", staged=_staged(html)
    ).get_data(as_text=True)
    assert 'data-dry-run="no"' in loaded and 'id="confirm-form"' not in loaded
    session.expire_all()
    assert (_units(session), _loads(session)) == (before + 3, 1)
    assert session.scalar(select(AdminUnit.valid_from).where(AdminUnit.code == "90001")).isoformat() == FIRST
    assert 'data-from="2026-01-01"' in client.get("/admin/editions", headers=admin).get_data(as_text=True)
    again = _post(client, admin, "load", source="upload", effective=FIRST, provinces="90", staged=_staged(html))
    assert again.status_code == 422 and "staged" in _refused_fields(again.get_data(as_text=True))  # loaded: dropped

    later = _upload(client, admin, LATER_EDITION, LATER, provinces="90").get_data(as_text=True)
    renamed = re.search(r'id="report-renamed">(.*?)</table>', later, re.S).group(1)
    assert "Phường Tây" in renamed and "Phường Tây Đông" in renamed
    assert "90001, 90002" in re.search(r'id="report-merged">(.*?)</table>', later, re.S).group(1)
    session.expire_all()
    assert session.scalar(select(func.count()).where(AdminUnit.code == "90001")) == 1
    _post(client, admin, "load", source="upload", effective=LATER, provinces="90", staged=_staged(later))
    session.expire_all()
    assert session.scalar(select(func.count()).where(AdminUnit.code == "90001")) == 2


def test_the_bundled_edition_is_dry_run_for_the_provinces_named(client, world, session):
    before = _units(session)
    dry = _post(client, world.headers["admin"], "dry-run", source="bundled", effective="2025-07-01", provinces="01")
    html = dry.get_data(as_text=True)
    assert dry.status_code == 200 and "127" in re.search(r'id="report-counts">(.*?)</p>', html, re.S).group(1)
    assert 'name="provinces" value="01"' in html and 'name="staged"' not in html
    session.expire_all()
    assert _units(session) == before


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"effective": "30/04/2026"}, "effective"),
        ({"effective": ""}, "effective"),
        ({"effective": (local_today() + timedelta(days=1)).isoformat()}, "effective"),
        ({"effective": FIRST, "source": "elsewhere"}, "source"),
        ({"effective": FIRST, "provinces": "01; ../25"}, "provinces"),
        ({"effective": FIRST, "provinces": "99"}, "edition"),
        ({"effective": FIRST, "source": "upload"}, "file"),
        ({"effective": FIRST, "source": "upload", "staged": "../../etc/passwd"}, "staged"),
        ({"effective": FIRST, "source": "upload", "staged": "0" * 64 + ".geojson"}, "staged"),
    ],
)
def test_a_bad_input_is_a_422_naming_its_field_and_writes_nothing(client, world, session, form, field):
    before = _units(session)
    refused = _post(client, world.headers["admin"], "dry-run", **{"source": "bundled", **form})
    assert refused.status_code == 422 and field in _refused_fields(refused.get_data(as_text=True))
    session.expire_all()
    assert (_units(session), _loads(session)) == (before, 0)


def test_a_bad_file_or_a_date_before_the_edition_in_force_is_refused(client, world, session):
    admin = world.headers["admin"]
    not_json = _upload(client, admin, b"not json at all", FIRST)
    assert not_json.status_code == 422 and "file" in _refused_fields(not_json.get_data(as_text=True))
    csv = _upload(client, admin, FIRST_EDITION, FIRST, name="edition.csv")
    assert csv.status_code == 422 and "file" in _refused_fields(csv.get_data(as_text=True))
    no_code = _upload(client, admin, _edition_file(_feature("", "Tỉnh", "province")), FIRST)
    assert no_code.status_code == 422 and "edition" in _refused_fields(no_code.get_data(as_text=True))
    load_only = _upload(client, admin, FIRST_EDITION, FIRST, step="load", provinces="90")
    assert load_only.status_code == 422 and "staged" in _refused_fields(load_only.get_data(as_text=True))

    html = _upload(client, admin, FIRST_EDITION, LATER, provinces="90").get_data(as_text=True)
    _post(client, admin, "load", source="upload", effective=LATER, provinces="90", staged=_staged(html))
    earlier = _upload(client, admin, LATER_EDITION, FIRST, provinces="90")
    page = earlier.get_data(as_text=True)
    assert earlier.status_code == 422 and "effective" in _refused_fields(page) and "2026-04-30" in page
    session.expire_all()
    assert _loads(session) == 1
