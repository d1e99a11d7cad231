"""Loading editions of the administrative units: the first one into an empty registry, later ones over it."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache

import pytest
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Point, box, mapping
from sqlalchemy import func, select

from camera_registry.models import (
    AdminLevel,
    AdminUnit,
    FootageRequest,
    Lens,
    Owner,
    OwnerKind,
    Recorder,
    RequestStatus,
    Role,
    Site,
    User,
)
from camera_registry.services import supervision
from camera_registry.services.access import SYSTEM, actor_for
from camera_registry.services.admin_units import get_admin_unit, list_admin_units
from camera_registry.services.editions import BUNDLED_EDITION, Edition, EditionError, load_edition, read_edition
from camera_registry.services.errors import PermissionDenied
from camera_registry.services.records import current_commune
from camera_registry.services.stats import unit_figures

REFORM = date(2025, 7, 1)
#: The day the derived edition takes effect: Phường Cửa Nam joins Phường Hoàn Kiếm, Bạch Mai is renamed.
LATER = date(2026, 4, 30)
HOAN_KIEM, CUA_NAM, BACH_MAI = "00070", "00082", "00292"


@cache
def hanoi_and_phu_tho():
    """The bundled edition's Hà Nội and Phú Thọ, read once per session (parsing the boundaries takes seconds)."""
    return read_edition(BUNDLED_EDITION, provinces=["01", "25"])


def _open(session, code) -> AdminUnit:
    return session.scalar(select(AdminUnit).where(AdminUnit.code == code, AdminUnit.valid_to.is_(None)))


def test_first_edition_fills_an_empty_registry(session):
    started = time.monotonic()
    report = load_edition(session, hanoi_and_phu_tho(), REFORM)
    assert time.monotonic() - started < 30
    assert (len(report.opened), len(report.closed), report.unchanged) == (276, 0, 0)
    assert session.scalar(select(func.count()).select_from(AdminUnit)) == 276
    chi_dam = _open(session, "07999")
    assert (chi_dam.name, chi_dam.level, chi_dam.parent.code, chi_dam.valid_from) == (
        "Xã Chí Đám",
        AdminLevel.COMMUNE,
        "25",
        REFORM,
    )
    assert to_shape(chi_dam.boundary).geom_type == "MultiPolygon"
    assert to_shape(chi_dam.boundary).equals(next(u.boundary for u in hanoi_and_phu_tho().units if u.code == "07999"))


def test_the_same_edition_again_changes_nothing(session):
    load_edition(session, hanoi_and_phu_tho(), REFORM)
    again = load_edition(session, hanoi_and_phu_tho(), date(2026, 4, 30))
    assert (again.opened, again.closed, again.unchanged) == ([], [], 276)


def _geojson_edition(tmp_path, features, name="edition.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return read_edition(path)


def _feature(code, name, level, parent=None, geometry=None, **extra):
    properties = {"code": code, "name": name, "level": level, "parent_code": parent, **extra}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def test_police_phones_are_normalised_and_a_bad_one_leaves_nothing(session, tmp_path):
    square = mapping(box(105.8, 21.0, 105.81, 21.01))
    good = _geojson_edition(
        tmp_path,
        [
            _feature("90", "Tỉnh Thử", "province"),
            _feature("90001", "Phường Mới", "Phường", "90", square, police_phone="0912 345 678"),
        ],
    )
    load_edition(session, good, REFORM)
    assert _open(session, "90001").police_phone == "84912345678"
    bad = _geojson_edition(
        tmp_path,
        [_feature("91", "Tỉnh Khác", "province"), _feature("91001", "Xã Sai", "Xã", "91", police_phone="024 3826")],
        "bad.geojson",
    )
    with pytest.raises(EditionError, match="91001"):
        load_edition(session, bad, date(2026, 4, 30), provinces=["91"])
    assert _open(session, "91") is None and _open(session, "90001").valid_to is None


def test_dry_run_leaves_nothing(session):
    report = load_edition(session, hanoi_and_phu_tho(), REFORM, dry_run=True)
    assert len(report.opened) == 276 and report.dry_run
    assert session.scalar(select(func.count()).select_from(AdminUnit)) == 0


@cache
def merged_and_renamed() -> Edition:
    """The bundled edition as it would be on 2026-04-30: Cửa Nam merged into Hoàn Kiếm (whose code the merged
    ward keeps, over the union of both boundaries), and Bạch Mai renamed within the same boundary."""
    units = {unit.code: unit for unit in hanoi_and_phu_tho().units}
    union = units[HOAN_KIEM].boundary.union(units[CUA_NAM].boundary)
    merged = replace(units[HOAN_KIEM], boundary=union if isinstance(union, MultiPolygon) else MultiPolygon([union]))
    renamed = replace(units[BACH_MAI], name="Phường Bạch Mai - Minh Khai")
    changed = {HOAN_KIEM: merged, BACH_MAI: renamed}
    kept = tuple(changed.get(unit.code, unit) for unit in units.values() if unit.code != CUA_NAM)
    return Edition(source=hanoi_and_phu_tho().source, units=kept)


def _point_in(code):
    unit = next(u for u in hanoi_and_phu_tho().units if u.code == code)
    return from_shape(unit.boundary.representative_point(), srid=4326)


def _registry_in(session, code, tag):
    """A site with a point and one without, an owner, a recorder and a lens, in the commune `code`."""
    commune = _open(session, code)
    site = Site(code=f"site-{tag}", name=f"Site {tag}", commune=commune, point=_point_in(code))
    bare = Site(code=f"bare-{tag}", name=f"Bare site {tag}", commune=commune)
    owner = Owner(external_id=f"owner-{tag}", kind=OwnerKind.HOUSEHOLD, name=f"Owner {tag}", commune=commune)
    recorder = Recorder(external_id=f"rec-{tag}", owner=owner, site=site, retention_days=14, point=_point_in(code))
    lens = Lens(
        external_id=f"lens-{tag}", recorder=recorder, point=_point_in(code), bearing_deg=0, fov_deg=90, range_m=30
    )
    session.add_all([site, bare, owner, recorder, lens])
    session.flush()
    assert recorder.commune_id == commune.id and lens.commune_id == commune.id
    return {"site": site, "bare": bare, "owner": owner, "recorder": recorder, "lens": lens}


def _police(session, code, username):
    user = User(username=username, password_hash="!", role=Role.COMMUNE_POLICE, admin_unit=_open(session, code))
    session.add(user)
    session.flush()
    return user


def _request_in(session, code):
    now = datetime.now(UTC)
    request = FootageRequest(
        commune=_open(session, code),
        case_ref="VV-1",
        reason="theft",
        legal_basis="BLTTHS 2015",
        incident=_point_in(code),
        window_start=now - timedelta(hours=2),
        window_end=now - timedelta(hours=1),
        radius_m=100,
        status=RequestStatus.ROUTED,
    )
    session.add(request)
    session.flush()
    return request


def test_a_later_edition_closes_opens_and_moves_what_it_touches(session):
    load_edition(session, hanoi_and_phu_tho(), REFORM)
    old = {code: _open(session, code) for code in (HOAN_KIEM, CUA_NAM, BACH_MAI)}
    in_cua_nam = _registry_in(session, CUA_NAM, "cn")
    in_hoan_kiem = _registry_in(session, HOAN_KIEM, "hk")
    cua_nam_police = _police(session, CUA_NAM, "police.cuanam")
    bach_mai_police = _police(session, BACH_MAI, "police.bachmai")
    request = _request_in(session, CUA_NAM)
    supervision.create_group(
        session,
        SYSTEM,
        code="HN-TT",
        name="Cụm phường trung tâm",
        province_code="01",
        commune_codes=[HOAN_KIEM, CUA_NAM, BACH_MAI],
        valid_from=REFORM,
    )

    report = load_edition(session, merged_and_renamed(), LATER)

    assert sorted(report.closed) == [HOAN_KIEM, CUA_NAM, BACH_MAI]
    assert sorted(report.opened) == [HOAN_KIEM, BACH_MAI]
    assert report.unchanged == 276 - 3
    assert report.merged == {HOAN_KIEM: [HOAN_KIEM, CUA_NAM]}
    assert report.renamed == [(BACH_MAI, "Phường Bạch Mai", "Phường Bạch Mai - Minh Khai")]
    for unit in old.values():
        session.refresh(unit)
        assert (unit.valid_from, unit.valid_to) == (REFORM, LATER)
    hoan_kiem, bach_mai = _open(session, HOAN_KIEM), _open(session, BACH_MAI)
    assert (hoan_kiem.valid_from, hoan_kiem.parent.code, bach_mai.name) == (LATER, "01", "Phường Bạch Mai - Minh Khai")
    assert _open(session, CUA_NAM) is None

    for records in (in_cua_nam, in_hoan_kiem):
        for record in records.values():
            session.refresh(record)
            assert record.commune_id == hoan_kiem.id, record
    assert in_cua_nam["site"].version == 2
    for user in (cua_nam_police, bach_mai_police):
        session.refresh(user)
    assert (cua_nam_police.admin_unit_id, bach_mai_police.admin_unit_id) == (hoan_kiem.id, bach_mai.id)
    session.refresh(request)
    assert request.commune_id == old[CUA_NAM].id

    moved = {(move.kind, move.source, move.target): move.count for move in report.moves}
    cua_nam_old = f"{CUA_NAM} Phường Cửa Nam (to {LATER})"
    hoan_kiem_old, hoan_kiem_new = f"{HOAN_KIEM} Phường Hoàn Kiếm (to {LATER})", f"{HOAN_KIEM} Phường Hoàn Kiếm"
    for kind, count in (("recorders", 1), ("lenses", 1), ("sites", 2), ("owners", 1), ("users", 1)):
        assert moved[(kind, cua_nam_old, hoan_kiem_new)] == count
    assert moved[("sites", hoan_kiem_old, hoan_kiem_new)] == 2
    assert [(b.username, b.successors) for b in report.users_rebound] == [
        ("police.bachmai", (f"{BACH_MAI} Phường Bạch Mai - Minh Khai",)),
        ("police.cuanam", (hoan_kiem_new,)),
    ]
    assert report.users_needing_admin == []
    assert [group.code for group in report.groups] == ["HN-TT"]
    carried = supervision.get_group(session, "HN-TT")
    assert (carried.valid_from, {c.id for c in carried.communes}) == (LATER, {hoan_kiem.id, bach_mai.id})

    before = {unit.code for unit in list_admin_units(session, on=date(2026, 4, 29), page_size=500).items}
    after = {unit.code for unit in list_admin_units(session, on=LATER, page_size=500).items}
    assert CUA_NAM in before and CUA_NAM not in after and HOAN_KIEM in after

    again = load_edition(session, merged_and_renamed(), LATER)
    assert (again.opened, again.closed, again.moves, again.unchanged) == ([], [], [], 276 - 1)


def test_a_dry_run_of_a_later_edition_leaves_the_registry_as_it_was(session):
    load_edition(session, hanoi_and_phu_tho(), REFORM)
    records = _registry_in(session, CUA_NAM, "cn")
    cua_nam = _open(session, CUA_NAM)
    report = load_edition(session, merged_and_renamed(), LATER, dry_run=True)
    assert report.merged == {HOAN_KIEM: [HOAN_KIEM, CUA_NAM]} and report.moves
    session.expire_all()
    assert _open(session, CUA_NAM).id == cua_nam.id
    assert session.get(Recorder, records["recorder"].id).commune_id == cua_nam.id
    assert session.scalar(select(func.count()).select_from(AdminUnit)) == 276


def test_a_split_leaves_its_police_for_an_administrator_and_a_new_commune_takes_in_cameras(session, tmp_path):
    west, east = mapping(box(105.80, 21.00, 105.86, 21.05)), mapping(box(105.86, 21.00, 105.90, 21.05))
    whole, beyond = mapping(box(105.80, 21.00, 105.90, 21.05)), mapping(box(105.90, 21.00, 106.00, 21.05))
    first = _geojson_edition(
        tmp_path, [_feature("90", "Tỉnh Thử", "province"), _feature("90001", "Xã Cả", "Xã", "90", whole)]
    )
    load_edition(session, first, REFORM)
    police = _police(session, "90001", "police.ca")
    owner = Owner(external_id="owner-far", kind=OwnerKind.HOUSEHOLD, name="Owner far")
    outside = Recorder(
        external_id="rec-far", owner=owner, retention_days=14, point=from_shape(Point(105.95, 21.02), srid=4326)
    )
    session.add_all([owner, outside])
    session.flush()
    assert outside.commune_id is None
    split = _geojson_edition(
        tmp_path,
        [
            _feature("90", "Tỉnh Thử", "province"),
            _feature("90002", "Xã Tây", "Xã", "90", west),
            _feature("90003", "Xã Đông", "Xã", "90", east),
            _feature("90004", "Xã Xa", "Xã", "90", beyond),
        ],
        "split.geojson",
    )
    report = load_edition(session, split, LATER)
    assert [(b.username, b.closed, b.successors) for b in report.users_needing_admin] == [
        ("police.ca", f"90001 Xã Cả (to {LATER})", ("90002 Xã Tây", "90003 Xã Đông"))
    ]
    session.refresh(police)
    assert police.admin_unit.code == "90001" and police.admin_unit.valid_to == LATER
    reach = actor_for(session, police)
    assert reach.historic_binding and reach.can_read(police.admin_unit_id) and not reach.can_write(police.admin_unit_id)
    assert [(m.kind, m.source, m.target, m.count) for m in report.moves] == [("recorders", None, "90004 Xã Xa", 1)]


def test_only_an_administrator_loads_an_edition(session, world):
    staff = actor_for(session, session.scalar(select(User).where(User.username == "province-staff")))
    with pytest.raises(PermissionDenied):
        load_edition(session, hanoi_and_phu_tho(), REFORM, staff)


def test_a_date_before_the_edition_in_force_is_refused(session):
    load_edition(session, hanoi_and_phu_tho(), LATER)
    with pytest.raises(EditionError, match="edition in force dates from 2026-04-30"):
        load_edition(session, merged_and_renamed(), REFORM)
    with pytest.raises(EditionError, match="came into force on 2026-04-30: an edition in force from 2026-04-30"):
        load_edition(session, merged_and_renamed(), LATER)
    assert _open(session, CUA_NAM).valid_to is None
    with pytest.raises(EditionError, match="loaded on or after that day"):
        load_edition(session, merged_and_renamed(), date.today() + timedelta(days=400))


def _as_geojson(tmp_path, edition: Edition, province: str):
    features = [
        _feature(
            unit.code,
            unit.name,
            unit.level.value,
            unit.parent_code,
            mapping(unit.boundary) if unit.boundary is not None else None,
        )
        for unit in edition.units
        if province in (unit.code, unit.parent_code)
    ]
    path = tmp_path / "later.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


def test_the_command_loads_reports_and_refuses(app, tmp_path):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["admin-units", "load", "--provinces", "01", "--effective", "2025-07-01"])
    assert first.exit_code == 0, first.output
    assert "127 units opened, 0 closed, 0 unchanged" in first.output
    later = str(_as_geojson(tmp_path, merged_and_renamed(), "01"))

    dry = runner.invoke(args=["admin-units", "load", later, "--effective", "2026-04-30", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["merged"] == {HOAN_KIEM: [HOAN_KIEM, CUA_NAM]}

    loaded = runner.invoke(args=["admin-units", "load", later, "--effective", "2026-04-30"])
    assert loaded.exit_code == 0, loaded.output
    assert "2 units opened, 3 closed, 124 unchanged" in loaded.output
    assert f"closed: {HOAN_KIEM}, {CUA_NAM}, {BACH_MAI}" in loaded.output
    assert "merged:" in loaded.output and f"{HOAN_KIEM}  {HOAN_KIEM}, {CUA_NAM}" in loaded.output
    assert "Phường Bạch Mai - Minh Khai" in loaded.output

    for args, reason in (
        ([later, "--effective", "2026-01-01"], "edition in force dates from 2026-04-30"),
        ([str(tmp_path / "missing.geojson"), "--effective", "2026-05-01"], "no such file or directory"),
        ([later, "--effective", "30/04/2026"], "is not a date like 2026-04-30"),
    ):
        refused = runner.invoke(args=["admin-units", "load", *args])
        assert refused.exit_code != 0 and reason in refused.output, refused.output


def test_a_code_with_a_closed_and_an_open_version_names_the_one_in_force(session, client, world, tmp_path):
    """Lookups by code (writes, the register import, figures, the API) take the version in force, never any."""
    west, wider = mapping(box(106.00, 21.00, 106.05, 21.05)), mapping(box(106.00, 21.00, 106.06, 21.05))
    for name, boundary, effective in (("Tỉnh Thử", west, REFORM), ("Tỉnh Thử Mới", wider, LATER)):
        edition = _geojson_edition(
            tmp_path, [_feature("90", name, "province"), _feature("90001", "Xã Một", "Xã", "90", boundary)], name
        )
        load_edition(session, edition, effective, provinces=["90"])
    session.commit()
    old, new = sorted(session.scalars(select(AdminUnit).where(AdminUnit.code == "90001")), key=lambda u: u.id)
    assert (old.valid_to, new.valid_from, new.valid_to, new.parent.name) == (LATER, LATER, None, "Tỉnh Thử Mới")

    assert current_commune(session, "90001").id == new.id
    assert get_admin_unit(session, "90001", on=date(2026, 1, 1)).id == old.id
    figures = unit_figures(session, SYSTEM, parent_code="90")
    assert [row.code for row in figures.rows] == ["90001"]

    admin = world.headers["admin"]
    created = client.post(
        "/api/v1/sites", json={"code": "S-90", "name": "Điểm", "commune_code": "90001"}, headers=admin
    )
    assert created.status_code == 201, created.get_json()
    assert session.get(Site, created.get_json()["id"]).commune_id == new.id
    detail = client.get("/api/v1/admin-units/90001", headers=admin).get_json()
    assert (detail["name"], detail["valid_from"], detail["valid_to"]) == ("Xã Một", "2026-04-30", None)
    earlier = client.get("/api/v1/admin-units/90001?on=2026-01-01", headers=admin).get_json()
    assert (earlier["valid_from"], earlier["valid_to"]) == ("2025-07-01", "2026-04-30")
    history = client.get("/api/v1/admin-units?parent=90&history=true", headers=admin).get_json()
    assert [(u["code"], u["valid_from"], u["valid_to"]) for u in history] == [
        ("90001", "2025-07-01", "2026-04-30"),
        ("90001", "2026-04-30", None),
    ]
    before = client.get("/api/v1/admin-units?parent=90&on=2026-01-01", headers=admin).get_json()
    assert [u["valid_to"] for u in before] == ["2026-04-30"]
