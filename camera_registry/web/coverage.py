"""The coverage map for staff: communes as a choropleth, lenses clustered or with their fields of view, and what
the lenses see of each commune.

The page is a shell; its data comes from /api/v1/map (the same reach rules as the API).
"""

from __future__ import annotations

import json

from flask import Blueprint, render_template

from ..http.actor import current_actor
from ..http.units import get_session
from ..services import coverage
from .auth import signed_in

blueprint = Blueprint("coverage", __name__)


@blueprint.get("/map")
@signed_in
def map_page():
    extent = coverage.reach_extent(get_session(), current_actor())
    return render_template(
        "map.html",
        extent=json.dumps(extent),
        lens_min_zoom=coverage.LENS_MIN_ZOOM,
        coverage_min_zoom=coverage.COVERAGE_MIN_ZOOM,
    )
