"""Maps draw a commune's real boundary simplified (per zoom, to a few metres); the stored boundary, which decides
where every lens belongs, stays the edition's full one."""

from __future__ import annotations

import pytest
import shapely
from geoalchemy2.shape import to_shape
from sample_support import SampleOnce
from sqlalchemy import select

from camera_registry.geo.mapview import degrees_per_pixel
from camera_registry.models import AdminUnit, Role
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM, actor_for
from camera_registry.services.coverage import map_communes
from camera_registry.services.editions import BUNDLED_EDITION
from camera_registry.services.request_views import DRAWN_ZOOM, commune_of
from camera_registry.services.sample import read_units

METRES_PER_DEGREE = 111_320  # along the equator: an upper bound for a longitude degree in Vietnam


@pytest.fixture(scope="module")
def sample(engine):
    loaded = SampleOnce(engine)
    yield loaded
    loaded.close()


@pytest.fixture()
def db_connection(sample):
    """Every test here runs on the bundled sample, loaded once for the module, in a savepoint of its own."""
    with sample.savepoint() as connection:
        yield connection


@pytest.fixture()
def chi_dam(session):
    unit = session.scalar(select(AdminUnit).where(AdminUnit.code == "07999"))
    user = accounts.create_user(session, SYSTEM, "police.chidam", "a-long-password-1", Role.COMMUNE_POLICE, "07999")
    return unit, to_shape(unit.boundary), actor_for(session, user)


def vertices(geometry) -> int:
    return shapely.get_num_coordinates(geometry)


def test_the_stored_boundary_is_the_editions_full_one(chi_dam):
    _, stored, _ = chi_dam
    published = {unit.code: unit for unit in read_units(BUNDLED_EDITION, ("01", "25", "79")).units}["07999"]
    assert shapely.equals_exact(shapely.normalize(stored), shapely.normalize(published.boundary), tolerance=1e-9)
    assert vertices(stored) == vertices(published.boundary) > 1_000


@pytest.mark.parametrize("zoom", [12, 14, 17])
def test_the_coverage_map_draws_a_lighter_boundary_within_about_a_pixel_of_the_stored_one(session, chi_dam, zoom):
    _, stored, actor = chi_dam
    (drawn,) = [c for c in map_communes(session, actor, stored.bounds, zoom) if c.code == "07999"]
    assert vertices(drawn.boundary) < vertices(stored) / 1.5
    assert drawn.boundary.hausdorff_distance(stored) <= 1.1 * degrees_per_pixel(zoom)  # and rounded to the pixel


def test_the_new_request_map_draws_the_commune_within_two_metres(session, chi_dam):
    unit, stored, actor = chi_dam
    commune, drawn = commune_of(session, actor)
    assert commune.id == unit.id
    assert vertices(drawn) < vertices(stored) / 1.5
    assert drawn.hausdorff_distance(stored) * METRES_PER_DEGREE <= 2
    assert degrees_per_pixel(DRAWN_ZOOM) * METRES_PER_DEGREE <= 2
