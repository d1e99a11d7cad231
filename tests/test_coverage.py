"""The coverage map's data: grid clusters and single lenses, communes with figures, a lens's summary; and the
map geometry helpers on both backends."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest
from geoalchemy2.shape import from_shape
from registry_support import COMMUNE_A_BOX, admin_unit
from shapely.geometry import Point, box, shape
from sqlalchemy import func, literal, select

from camera_registry.geo.mapview import area_km2, degrees_per_pixel, grid_cell_deg, simplified_for_zoom
from camera_registry.geo.spatial import grid_index
from camera_registry.models import AuditEvent, Lens, LensStatus
from camera_registry.models.base import utcnow
from camera_registry.services import commune_figures, coverage
from camera_registry.services.commune_coverage import (
    DRAWING_ZOOMS,
    coverage_shapes,
    coverage_shapes_size,
    refresh_coverage,
)
from camera_registry.services.coverage import COVERAGE_MIN_ZOOM, MAX_COVERAGE_COMMUNES, MAX_LENSES

BOTH = "105.79,20.99,105.91,21.06"  # communes A and B


def features(client, world, role, path):
    response = client.get(path, headers=world.headers[role])
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/geo+json"
    return response.get_json()["features"]


@pytest.mark.parametrize("value, cell", [(105.8342, 0.01), (21.0278, 0.0439453125), (8.5, 1.5), (117.2, 0.003)])
def test_grid_index_is_the_floor_on_both_backends(session, value, cell):
    for origin in (-180, -90):
        assert session.scalar(select(grid_index(session.get_bind(), literal(value), origin, cell))) == math.floor(
            (value - origin) / cell
        )


def test_map_geometry_helpers():
    assert degrees_per_pixel(0) == 360 / 256 and degrees_per_pixel(10) == 360 / 256 / 1024
    assert grid_cell_deg(12, (105.8, 21.0, 105.9, 21.1), 64, 64) == pytest.approx(64 * 360 / 256 / 4096)
    assert grid_cell_deg(18, (100.0, 10.0, 110.0, 20.0), 64, 64) == pytest.approx(10 / 64)  # a huge box: few cells
    disc = Point(105.83, 21.03).buffer(0.01, 256)
    simple = simplified_for_zoom(disc, 10)
    assert len(simple.exterior.coords) < 40 and simple.contains(Point(105.83, 21.03))
    assert all(round(x, 5) == x for x, _ in simple.exterior.coords)
    # 0.01° x 0.01° at 21°N: 1.107 km x 1.039 km.
    assert area_km2(box(105.80, 21.00, 105.81, 21.01)) == pytest.approx(1.150, rel=0.01)


def test_whole_view_gets_clusters_that_add_up(client, world):
    found = features(client, world, "admin", f"/api/v1/map/lenses?bbox={BOTH}&zoom=12")
    assert {f["properties"]["kind"] for f in found} == {"cluster"}
    assert sum(f["properties"]["lenses"] for f in found) == 2
    assert sum(f["properties"]["shared_lenses"] for f in found) == 2
    mine = features(client, world, "police_a", f"/api/v1/map/lenses?bbox={BOTH}&zoom=12")
    assert sum(f["properties"]["lenses"] for f in mine) == 1


def test_close_in_lenses_come_one_by_one_with_their_wedge(client, world):
    [lens] = features(client, world, "police_a", f"/api/v1/map/lenses?bbox={BOTH}&zoom=17")
    props = lens["properties"]
    assert props["kind"] == "lens" and props["id"] == world.objects["a"]["lens"]
    assert (props["bearing_deg"], props["fov_deg"], props["range_m"]) == (90.0, 90.0, 30.0)
    assert props["shared"] is True and props["owner_kind"] == "household" and props["status"] == "active"
    assert lens["geometry"]["coordinates"] == [105.8201, 21.02]


@pytest.mark.parametrize(
    "filters, count",
    [
        ("", 2),
        ("&status=active", 2),
        ("&status=offline", 0),
        ("&shared=true", 2),
        ("&shared=false", 0),
        ("&owner_kind=household", 2),
        ("&owner_kind=agency", 0),
    ],
)
def test_filters(client, world, filters, count):
    assert len(features(client, world, "admin", f"/api/v1/map/lenses?bbox={BOTH}&zoom=17{filters}")) == count


def test_a_view_over_the_cap_is_clustered_even_close_in(client, world, session):
    recorder_id = world.objects["a"]["recorder"]
    rng = random.Random(3)
    session.add_all(
        [
            Lens(
                external_id=f"dense-{n}",
                recorder_id=recorder_id,
                commune_id=world.commune_a.id,
                point=from_shape(Point(105.82 + rng.uniform(0, 0.002), 21.02 + rng.uniform(0, 0.002)), srid=4326),
            )
            for n in range(MAX_LENSES)
        ]
    )
    session.commit()
    found = features(client, world, "admin", "/api/v1/map/lenses?bbox=105.819,21.019,105.823,21.023&zoom=17")
    assert {f["properties"]["kind"] for f in found} == {"cluster"}
    assert sum(f["properties"]["lenses"] for f in found) == MAX_LENSES + 1
    assert len(found) <= 64 * 64


def test_bad_views_are_refused(client, world):
    for query, field in (
        ("bbox=1,2,3&zoom=3", "bbox"),
        (f"bbox={BOTH}&zoom=30", "zoom"),
        ("bbox=105.9,21,105.8,21.1&zoom=12", "bbox"),
        (f"bbox={BOTH}", "zoom"),
    ):
        response = client.get(f"/api/v1/map/lenses?{query}", headers=world.headers["admin"])
        assert response.status_code == 422 and field in response.get_json()["errors"], query
    assert client.get(f"/api/v1/map/communes?bbox={BOTH}&zoom=12").status_code == 401


def test_communes_with_boundaries_and_figures_in_reach(client, world):
    found = features(client, world, "province_staff", f"/api/v1/map/communes?bbox={BOTH}&zoom=12")
    assert [f["properties"]["code"] for f in found] == ["A", "B"]
    a = found[0]
    assert a["geometry"]["type"] in ("Polygon", "MultiPolygon")  # GEOS simplifies a one-part MultiPolygon
    props = a["properties"]
    assert props["name"] == "Xã A" and props["lenses_active"] == 1 and props["sharing_rate"] == 1.0
    assert props["area_km2"] == pytest.approx(area_km2(box(*COMMUNE_A_BOX)))
    assert props["lens_density"] == pytest.approx(1 / props["area_km2"])
    assert [
        f["properties"]["code"]
        for f in features(client, world, "police_b", f"/api/v1/map/communes?bbox={BOTH}&zoom=12")
    ] == ["B"]
    assert features(client, world, "admin", "/api/v1/map/communes?bbox=106.5,21.5,106.6,21.6&zoom=12") == []


def test_lens_summary_shows_contacts_only_to_the_communes_police_and_audits_it(client, world, session):
    lens_id = world.objects["a"]["lens"]
    police = client.get(f"/api/v1/map/lenses/{lens_id}", headers=world.headers["police_a"]).get_json()
    assert police["owner"]["phone"] == "0912345678" and police["owner"]["contacts_shown"] is True
    assert police["recorder"]["external_id"] == "rec-a" and police["recorder"]["shared"] is True
    assert police["site_name"] == "Site a" and police["lens"]["fov_deg"] == 90.0
    disclosures = session.scalars(select(AuditEvent).where(AuditEvent.action == "owner.contacts_read")).all()
    assert [event.details["owner_ids"] for event in disclosures] == [[world.objects["a"]["owner"]]]

    staff = client.get(f"/api/v1/map/lenses/{lens_id}", headers=world.headers["district_staff"]).get_json()
    assert staff["owner"]["name"] == "Owner a" and staff["owner"]["phone"] is None
    assert staff["owner"]["contacts_shown"] is False
    assert session.scalar(select(func.count()).where(AuditEvent.action == "owner.contacts_read")) == 1
    assert client.get(f"/api/v1/map/lenses/{lens_id}", headers=world.headers["police_b"]).status_code == 404


def test_map_page_needs_sign_in_and_opens_on_the_reach(client, world):
    assert client.get("/map").status_code == 302
    page = client.get("/map", headers=world.headers["district_staff"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-extent="[105.8, 21.0, 105.85, 21.05]"' in html and "Tỷ lệ chia sẻ" in html
    assert 'data-lenses="/api/v1/map/lenses"' in html
    assert 'data-coverage="/api/v1/map/coverage"' in html and 'data-coverage-zoom="11"' in html
    assert LensStatus.REMOVED.value in html  # the status filter offers every state


# --------------------------------------------------------------------------- the coverage layer


def refreshed(session) -> None:
    """The scheduler's two refreshes, as after a minute: the figures' recount hands its marks on to coverage."""
    now = utcnow()
    commune_figures.refresh(session, now)
    refresh_coverage(session, now)
    session.commit()


def test_the_coverage_layer_sends_the_stored_unions_of_the_communes_in_reach(client, world, session):
    refreshed(session)
    found = features(client, world, "province_staff", f"/api/v1/map/coverage?bbox={BOTH}&zoom=15")
    assert [(f["properties"]["code"], f["properties"]["union"]) for f in found] == [
        ("A", "seen"),
        ("A", "shared_seen"),
        ("B", "seen"),
        ("B", "shared_seen"),
    ]
    shapes = {s.commune_id: s for s in coverage_shapes(session, tuple(float(v) for v in BOTH.split(",")), 15)}
    a, b = shapes[world.commune_a.id], shapes[world.commune_b.id]
    assert [f["geometry"] for f in found] == [a.seen, a.shared_seen, b.seen, b.shared_seen]
    assert datetime.fromisoformat(found[0]["properties"]["computed_at"]) == a.computed_at.replace(tzinfo=UTC)
    assert not any(f["properties"]["stale"] for f in found)
    assert shape(found[0]["geometry"]).area > 0 and shape(found[0]["geometry"]).within(box(*COMMUNE_A_BOX))

    for role, code in (("police_a", "A"), ("police_b", "B")):
        mine = features(client, world, role, f"/api/v1/map/coverage?bbox={BOTH}&zoom=15")
        assert {f["properties"]["code"] for f in mine} == {code}
    assert features(client, world, "admin", "/api/v1/map/coverage?bbox=106.5,21.5,106.6,21.6&zoom=15") == []
    assert client.get(f"/api/v1/map/coverage?bbox={BOTH}&zoom=15").status_code == 401


def test_the_coverage_layer_says_stale_after_a_write_until_the_refresh(client, world, session):
    refreshed(session)
    session.get(Lens, world.objects["a"]["lens"]).bearing_deg = 180.0
    session.commit()
    path = f"/api/v1/map/coverage?bbox={BOTH}&zoom=15"
    before = features(client, world, "police_a", path)
    assert all(f["properties"]["stale"] for f in before)
    refreshed(session)
    after = features(client, world, "police_a", path)
    assert not any(f["properties"]["stale"] for f in after) and after[0]["geometry"] != before[0]["geometry"]


def test_the_coverage_layer_refuses_bad_and_too_wide_views_naming_the_field(client, world, session):
    for query, field in (
        ("bbox=1,2,3&zoom=15", "bbox"),
        ("bbox=105.9,21,105.8,21.1&zoom=15", "bbox"),
        (f"bbox={BOTH}", "zoom"),
        (f"bbox={BOTH}&zoom=30", "zoom"),
        (f"bbox={BOTH}&zoom={COVERAGE_MIN_ZOOM - 0.5}", "zoom"),
    ):
        response = client.get(f"/api/v1/map/coverage?{query}", headers=world.headers["admin"])
        assert response.status_code == 422 and field in response.get_json()["errors"], query
    # More communes than one view may hold: tiny ones in a row east of B.
    for i in range(MAX_COVERAGE_COMMUNES + 1):
        west = 106.0 + i * 0.001
        session.add(admin_unit(f"N{i}", f"Xã N{i}", parent=world.province, bounds=(west, 21.0, west + 0.001, 21.001)))
    session.commit()
    wide = client.get("/api/v1/map/coverage?bbox=105.99,20.99,106.2,21.01&zoom=11", headers=world.headers["admin"])
    assert wide.status_code == 422
    assert wide.get_json()["errors"]["bbox"] == [f"the view meets more than {MAX_COVERAGE_COMMUNES} communes: zoom in"]
    assert features(client, world, "admin", "/api/v1/map/coverage?bbox=105.99,20.99,106.1,21.01&zoom=11") == []


def test_a_view_too_big_to_send_goes_coarser_then_is_refused(client, world, session, monkeypatch):
    refreshed(session)
    view = tuple(float(v) for v in BOTH.split(","))
    path = f"/api/v1/map/coverage?bbox={BOTH}&zoom=17"
    sizes = {band: coverage_shapes_size(session, view, band) for band in DRAWING_ZOOMS}
    assert sizes[11] < sizes[14] < sizes[17]
    monkeypatch.setattr(coverage, "MAX_COVERAGE_CHARS", sizes[14])  # the bound, not the code, made small
    at_14 = features(client, world, "admin", f"/api/v1/map/coverage?bbox={BOTH}&zoom=14")
    assert features(client, world, "admin", path) == at_14
    monkeypatch.setattr(coverage, "MAX_COVERAGE_CHARS", sizes[11] - 1)
    response = client.get(path, headers=world.headers["admin"])
    assert response.status_code == 422 and "to draw: zoom in" in response.get_json()["errors"]["bbox"][0]
