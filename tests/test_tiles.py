"""Vector tiles of lenses at /tiles/lenses/{z}/{x}/{y}.mvt: decoded and placed against an independent oracle."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from geoalchemy2.shape import from_shape
from pyproj import Transformer
from shapely import Point

from camera_registry.geo.tiles import Tile
from camera_registry.models import Lens, LensStatus, Recorder

TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
WORLD_HALF_M = 20037508.342789244  # half the side of the Web Mercator square
EXTENT = 4096
ZOOM = 16


def tile_of(lon: float, lat: float, z: int = ZOOM) -> tuple[int, int, int]:
    x, y = TO_MERCATOR.transform(lon, lat)
    size = 2 * WORLD_HALF_M / 2**z
    return z, int((x + WORLD_HALF_M) // size), int((WORLD_HALF_M - y) // size)


def expected_position(lon: float, lat: float, tile: tuple[int, int, int]) -> tuple[float, float]:
    """Tile units from the tile's top-left corner, y down, computed with PROJ rather than our formula."""
    z, tx, ty = tile
    x, y = TO_MERCATOR.transform(lon, lat)
    size = 2 * WORLD_HALF_M / 2**z
    return (x + WORLD_HALF_M - tx * size) / size * EXTENT, (WORLD_HALF_M - y - ty * size) / size * EXTENT


def get_tile(client, world, tile, role="admin", **headers):
    z, x, y = tile
    return client.get(f"/tiles/lenses/{z}/{x}/{y}.mvt", headers={**world.headers[role], **headers})


def decoded(response) -> list[dict]:
    assert response.status_code == 200 and response.content_type == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(response.data, default_options={"y_coord_down": True})
    assert set(layers) == {"lenses"} and layers["lenses"]["extent"] == EXTENT
    return layers["lenses"]["features"]


LENS_A = (105.8201, 21.02)


def test_a_tile_holds_the_lens_where_it_is(client, world):
    tile = tile_of(*LENS_A)
    [feature] = decoded(get_tile(client, world, tile))
    lens_id = world.objects["a"]["lens"]
    assert feature["id"] == lens_id
    assert feature["properties"] == {
        "id": lens_id,
        "status": "active",
        "kind": "fixed",
        "bearing_deg": 90.0,
        "fov_deg": 90.0,
        "range_m": 30.0,
        "shared": True,
    }
    assert feature["properties"]["shared"] is True  # a boolean in the tile, not 1
    x, y = feature["geometry"]["coordinates"]
    assert 0 <= x < EXTENT and 0 <= y < EXTENT
    assert (x, y) == pytest.approx(expected_position(*LENS_A, tile), abs=1)


def test_many_lenses_land_on_their_pixels(client, world, session):
    """Lenses spread over one tile and just beyond its edge, with and without a bearing, on both encoders."""
    tile = tile_of(*LENS_A, z=14)
    z, tx, ty = tile
    recorder = session.get(Recorder, world.objects["a"]["recorder"])
    west, north = -180 + tx / 2**z * 360, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / 2**z))))
    width = 360 / 2**z
    spots = {
        f"spread-{i}-{j}": (west + width * (0.05 + 0.3 * i), north - width * 0.9 * (0.05 + 0.3 * j))
        for i in range(4)
        for j in range(4)
    }
    spots["beyond-the-east-edge"] = (west + width * 1.005, north - width * 0.5)  # inside the 64-unit buffer
    spots["far-beyond-the-edge"] = (west + width * 1.2, north - width * 0.5)
    lenses = {}
    for name, (lon, lat) in spots.items():
        lens = Lens(
            external_id=name,
            recorder=recorder,
            point=from_shape(Point(lon, lat), srid=4326),
            bearing_deg=None,
            fov_deg=360.0,
            range_m=20.0,
            status=LensStatus.OFFLINE,
        )
        session.add(lens)
        lenses[name] = lens
    session.commit()
    features = {f["id"]: f for f in decoded(get_tile(client, world, tile))}
    by_name = {name: features.get(lens.id) for name, lens in lenses.items()}
    assert by_name.pop("far-beyond-the-edge") is None
    for name, feature in by_name.items():
        assert feature is not None, name
        assert feature["properties"] == {
            "id": lenses[name].id,
            "status": "offline",
            "kind": "fixed",
            "fov_deg": 360.0,
            "range_m": 20.0,
            "shared": True,
        }
        assert feature["geometry"]["coordinates"] == pytest.approx(expected_position(*spots[name], tile), abs=1)
    assert EXTENT < by_name["beyond-the-east-edge"]["geometry"]["coordinates"][0] < EXTENT + 64
    assert world.objects["a"]["lens"] in features


def test_the_tile_containing_a_point_agrees_with_proj():
    for lon, lat in (LENS_A, (102.15, 8.19), (117.8, 23.38), (-73.98, 40.75)):
        for z in (0, 7, 14, 22):
            assert Tile.containing(lon, lat, z) == Tile(*tile_of(lon, lat, z))


def test_a_tile_far_from_any_lens_is_empty(client, world):
    response = get_tile(client, world, tile_of(110.0, 12.0, 14))
    assert response.status_code == 204 and response.data == b""


def test_another_communes_police_get_an_empty_tile(client, world):
    tile = tile_of(*LENS_A)
    assert get_tile(client, world, tile, "police_b").status_code == 204
    assert len(decoded(get_tile(client, world, tile, "police_a"))) == 1
    assert len(decoded(get_tile(client, world, tile, "district_staff"))) == 1


def test_anonymous_callers_are_refused(client, world):
    response = get_tile(client, world, tile_of(*LENS_A), "anonymous")
    assert response.status_code == 401 and response.get_json()["code"] == "unauthenticated"


@pytest.mark.parametrize("z, x, y", [(23, 0, 0), (-1, 0, 0), (3, 8, 0), (3, 0, 8), (3, -1, 0)])
def test_tiles_outside_the_grid_are_400(client, world, z, x, y):
    response = get_tile(client, world, (z, x, y))
    assert response.status_code == 400 and response.get_json()["code"] == "bad_request"


def test_tiles_are_cached_privately_and_revalidated(client, world):
    tile = tile_of(*LENS_A)
    response = get_tile(client, world, tile)
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert {"Authorization", "Cookie"} <= set(response.vary)
    again = get_tile(client, world, tile, **{"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
