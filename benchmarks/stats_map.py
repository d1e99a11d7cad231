"""Figures and the coverage map's data on the 55,000-lens city, through the API as an administrator.

- /api/v1/stats/admin-units for all 126 communes (and rolled up to the city);
- what /map fetches for a view of the whole city (its lenses, clustered, and its
  communes with figures and boundaries): time for both answers and their bytes;
- the same close in (zoom 17), where lenses come one by one with their wedges.
"""

from __future__ import annotations

import math
import tempfile

from sqlalchemy import text

from camera_registry import create_app
from camera_registry.geo.mapview import TILE_PX
from camera_registry.models import Role
from camera_registry.services.access import SYSTEM
from camera_registry.services.accounts import create_token, create_user
from camera_registry.services.coverage import reach_extent

from .harness import time_calls

RUNS = 50
VIEWPORT_PX = (1280, 900)
TARGET_STATS_MS, TARGET_VIEW_MS, TARGET_VIEW_BYTES = 200, 300, 1_000_000


def fitting_zoom(extent: tuple[float, float, float, float]) -> int:
    """The largest whole zoom at which a VIEWPORT_PX map shows the whole box (as Leaflet's fitBounds picks)."""
    min_lon, min_lat, max_lon, max_lat = extent
    mercator = lambda lat: math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))  # noqa: E731
    across = VIEWPORT_PX[0] * 360 / (TILE_PX * (max_lon - min_lon))
    down = VIEWPORT_PX[1] * 2 * math.pi / (TILE_PX * (mercator(max_lat) - mercator(min_lat)))
    return math.floor(math.log2(min(across, down)))


def bench_stats_map(backend: str, url: str, sessions) -> list[str]:
    with sessions() as session:
        # On PostgreSQL autovacuum analyses a table within a minute of a bulk load: time the plans a running
        # registry gets, not those for tables the planner has no statistics on yet (twice as slow here).
        session.execute(text("ANALYZE"))
        user = create_user(session, SYSTEM, "bench-stats", "bench-password", Role.ADMIN, None)
        _, secret = create_token(session, SYSTEM, user, "benchmark")
        session.commit()
        extent = reach_extent(session, SYSTEM)
    headers = {"Authorization": f"Bearer {secret}"}
    lines = []
    with tempfile.TemporaryDirectory(prefix="cr-bench-instance-") as instance:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
        client = app.test_client()

        def get(path: str) -> bytes:
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{backend} {path}: {response.status_code} {response.get_data(as_text=True)[:500]}")
            return response.data

        for label, path in (
            ("stats, all 126 communes", "/api/v1/stats/admin-units"),
            ("stats, rolled up to the city", "/api/v1/stats/admin-units?level=province"),
            ("stats, all 126 communes as XLSX", "/api/v1/stats/admin-units?format=xlsx"),
        ):
            timing = time_calls(lambda: get(path), RUNS)
            lines.append(
                f"| {backend} | GET {label} | p50 {timing.p50_ms:.1f} ms | p95 {timing.p95_ms:.1f} ms | | "
                f"target p95 < {TARGET_STATS_MS} ms |"
            )

        zoom = fitting_zoom(extent)
        centre_lon, centre_lat = (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2
        for label, view, view_zoom in (
            (f"whole city (zoom {zoom})", extent, zoom),
            (
                "close in (zoom 17)",
                (centre_lon - 0.0035, centre_lat - 0.0025, centre_lon + 0.0035, centre_lat + 0.0025),
                17,
            ),
        ):
            query = f"bbox={','.join(f'{v:.6f}' for v in view)}&zoom={view_zoom}"
            sizes = []

            def map_data():
                sizes.append(len(get(f"/api/v1/map/lenses?{query}")) + len(get(f"/api/v1/map/communes?{query}")))

            timing = time_calls(map_data, RUNS)
            lines.append(
                f"| {backend} | map data of a {VIEWPORT_PX[0]}x{VIEWPORT_PX[1]} view, {label}: lenses + "
                f"communes, {max(sizes) / 1000:.0f} kB | p50 {timing.p50_ms:.1f} ms | p95 {timing.p95_ms:.1f} ms | "
                f"| target < {TARGET_VIEW_MS} ms, < {TARGET_VIEW_BYTES / 1e6:g} MB |"
            )
        app.extensions["engine"].dispose()
    return lines
