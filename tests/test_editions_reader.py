"""Reading an edition of the administrative units: the bundled statistics-office edition and plain GeoJSON."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import Point, box, mapping

from camera_registry.models import AdminLevel
from camera_registry.services.editions.reader import BUNDLED_EDITION, EditionError, read_edition


def test_bundled_edition_has_every_province_and_commune():
    edition = read_edition(BUNDLED_EDITION)
    provinces = [u for u in edition.units if u.level == AdminLevel.PROVINCE]
    communes = [u for u in edition.units if u.level == AdminLevel.COMMUNE]
    assert (len(provinces), len(communes)) == (34, 3321)
    with_boundary = {u.parent_code for u in communes if u.boundary is not None}
    assert with_boundary == {"01", "25", "79"}


def test_one_province_with_its_real_boundaries():
    edition = read_edition(BUNDLED_EDITION, provinces=["25"])
    by_code = {u.code: u for u in edition.units}
    assert edition.units[0].code == "25" and by_code["25"].name == "Tỉnh Phú Thọ"
    chi_dam = by_code["07999"]
    assert (chi_dam.name, chi_dam.level, chi_dam.parent_code) == ("Xã Chí Đám", AdminLevel.COMMUNE, "25")
    assert chi_dam.boundary.is_valid and chi_dam.boundary.representative_point().within(by_code["25"].boundary)
    assert len(edition.units) == 149


def test_unknown_province_is_refused():
    with pytest.raises(EditionError, match="no province with code 99"):
        read_edition(BUNDLED_EDITION, provinces=["99"])


def _write(tmp_path, features) -> object:
    path = tmp_path / "edition.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


def _feature(code, name, level, parent=None, geometry=None, **extra):
    properties = {"code": code, "name": name, "level": level, "parent_code": parent, **extra}
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def test_plain_geojson_orders_parents_first_and_reads_vietnamese_kinds(tmp_path):
    square = mapping(box(105.8, 21.0, 105.81, 21.01))
    path = _write(
        tmp_path,
        [
            _feature("90001", "Phường Mới", "Phường", "90", square, police_phone="0912345678"),
            _feature("90", "Tỉnh Thử", "Tỉnh"),
        ],
    )
    edition = read_edition(path)
    assert [u.code for u in edition.units] == ["90", "90001"]
    ward = edition.units[1]
    assert ward.level == AdminLevel.COMMUNE and ward.police_phone == "0912345678"
    assert ward.boundary.geom_type == "MultiPolygon" and ward.boundary.contains(Point(105.805, 21.005))
    assert read_edition(path, provinces=["90"]).codes() == {"90", "90001"}


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([_feature("90", "A", "province"), _feature("90", "B", "province")], "code 90 appears twice"),
        ([_feature("90001", "A", "commune", "91")], "names parent 91, not in it"),
        ([_feature("90001", "A", "commune")], "needs a parent_code"),
        ([_feature("90", "A", "hamlet")], "level 'hamlet' is not province"),
        ([_feature(None, "A", "province")], "no code"),
        (
            [
                _feature(
                    "90",
                    "A",
                    "province",
                    geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
                )
            ],
            "not a valid polygon",
        ),
        ([_feature("90", "A", "province", geometry={"type": "Point", "coordinates": [0, 0]})], "Polygon or Multi"),
    ],
)
def test_bad_editions_are_refused_naming_the_unit(tmp_path, features, message):
    with pytest.raises(EditionError, match=message):
        read_edition(_write(tmp_path, features))


def test_missing_path_and_bad_json_are_refused(tmp_path):
    with pytest.raises(EditionError, match="no such file"):
        read_edition(tmp_path / "nothing.geojson")
    broken = tmp_path / "broken.geojson"
    broken.write_text("{")
    with pytest.raises(EditionError, match="not readable JSON"):
        read_edition(broken)
