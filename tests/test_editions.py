"""Loading editions of the administrative units: the first one into an empty registry, later ones over it."""

from __future__ import annotations

import json
import time
from datetime import date
from functools import cache

import pytest
from geoalchemy2.shape import to_shape
from shapely.geometry import box, mapping
from sqlalchemy import func, select

from camera_registry.models import AdminLevel, AdminUnit
from camera_registry.services.editions import BUNDLED_EDITION, EditionError, load_edition, read_edition

REFORM = date(2025, 7, 1)


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
