"""Vector tiles and map viewports over HTTP.

- `bench_tiles`: every z14 tile holding a lens of the city, fetched over HTTP
  from this app (werkzeug in a thread) and, on PostGIS, from tipg serving the
  same `lenses` table in a subprocess, alternating tile by tile in the same
  run: the p95 ratio beside its target (issue 16: at most 1.0x). tipg puts on a tile
  the lenses inside it; this app also those up to 64 units beyond its edges
  (so a symbol at the edge is drawn whole): the lenses inside must agree.
- `bench_national` (`python -m benchmarks --national`, PostGIS only): the
  3,000,000-lens national set, generated and loaded, then the map data of a
  1280x900 viewport: the z14 vector tiles covering the view, and what /map
  asks for (/api/v1/map/lenses and /communes).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import logging
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import mapbox_vector_tile
import requests
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from camera_registry import create_app
from camera_registry.db import make_session_factory
from camera_registry.geo.tiles import Tile
from camera_registry.models import Lens, Role
from camera_registry.services.access import SYSTEM
from camera_registry.services.accounts import create_token, create_user
from camera_registry.services.sample import load_dataset
from camera_registry.services.sample_generator import generate_city

from .harness import FULL, Figure, Scale, alternate_calls, at_most, fresh_database, peer, time_calls, timed_under, under

ZOOM = 14
TARGET_TILE_MS = 50
#: Issue 16: a z14 tile's p95 over HTTP at most tipg's on the same table, the two alternating in one run.
TARGET_TIPG_RATIO = 1.0
TILE_ROUNDS = 2
TIPG_COLLECTION = "public.lenses"
TIPG_PROPERTIES = "id,status,kind,bearing_deg,fov_deg,range_m"  # all but `shared`, which tipg cannot derive
NATIONAL = {"preset": "bundled", "lenses": 3_000_000, "sites": 8000, "seed": 1}
VIEWPORT_PX = (1280, 900)
VIEWPORT_ZOOMS = (14, 12, 10)  # cheapest first: after a view times out, wider ones are not tried
VIEWPORTS = 3  # a few: a slow answer on 3,000,000 lenses can take minutes
VIEWPORT_TIMEOUT_S = 120
BROWSER_PARALLEL = 6
TARGET_VIEWPORT_S = 1.0


def admin_header(sessions) -> dict[str, str]:
    """An administrator sees every lens, as tipg does."""
    with sessions() as session:
        user = create_user(session, SYSTEM, "bench-tiles", "bench-password", Role.ADMIN, None)
        _, secret = create_token(session, SYSTEM, user, "benchmark")
        session.commit()
    return {"Authorization": f"Bearer {secret}"}


def lens_points(sessions, count: int | None = None, seed: int = 5) -> list[tuple[float, float]]:
    """Every lens's lon/lat, or `count` lenses picked at random."""
    with sessions() as session:
        statement = select(func.ST_X(Lens.point), func.ST_Y(Lens.point))
        if count is not None:
            top = session.scalar(select(func.max(Lens.id)))
            statement = statement.where(Lens.id.in_(random.Random(seed).sample(range(1, top + 1), count)))
        return [tuple(row) for row in session.execute(statement)]


@contextmanager
def serving(url: str) -> Iterator[str]:
    """This app on a free local port, answering from a thread as it does in production."""
    with tempfile.TemporaryDirectory(prefix="cr-bench-tiles-") as instance:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            app.extensions["engine"].dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def tipg_serving(url: str) -> Iterator[tuple[str | None, str]]:
    """tipg (FastAPI, asyncpg) on the same database in a subprocess: (its URL, "") or (None, why not)."""
    missing = [name for name in ("tipg", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        yield None, f"{' and '.join(missing)} not installed (pip install -e '.[bench]')"
        return
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
        "TIPG_DB_TABLES": f'["{TIPG_COLLECTION}"]',
    }
    with tempfile.TemporaryDirectory(prefix="cr-bench-tipg-") as workdir, open(Path(workdir) / "log", "w+") as log:
        # Its own directory: tipg reads a .env file from where it starts.
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tipg.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            reason = _wait_for(base, process, log)
            yield (None, reason) if reason else (base, "")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(base: str, process: subprocess.Popen, log, timeout_s: float = 60) -> str:
    """ "" once tipg lists the lenses collection, else why it did not."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            return f"tipg exited with {process.returncode}: {log.read()[-300:].strip()}"
        try:
            if requests.get(f"{base}/collections/{TIPG_COLLECTION}", timeout=2).status_code == 200:
                return ""
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    return f"tipg did not answer within {timeout_s:.0f} s"


def _lens_ids(body: bytes, inside_only: bool = False) -> set[int]:
    """The lenses on a tile; `inside_only`: those placed clear of its edges, not in the buffer beyond them."""
    layers = mapbox_vector_tile.decode(body) if body else {}
    return {
        int(feature["properties"]["id"])
        for layer in layers.values()
        for feature in layer["features"]
        if not inside_only or all(0 < value < layer["extent"] for value in feature["geometry"]["coordinates"])
    }


def time_tiles(http: requests.Session, tile_url, tiles: list[Tile]):
    """Each tile once to warm up, then each once timed."""
    cycle = itertools.cycle(tiles)
    return time_calls(lambda: fetch_tile(http, tile_url(next(cycle))), len(tiles), warmup=len(tiles))


def fetch_tile(http: requests.Session, url: str) -> None:
    response = http.get(url)
    if response.status_code not in (200, 204):
        raise SystemExit(f"{response.url}: {response.status_code} {response.text[:200]}")


def _tile_figure(backend: str, label: str, timing) -> Figure:
    return timed_under(backend, f"z{ZOOM} tile over HTTP, {label}", timing, TARGET_TILE_MS)


def bench_tiles(backend: str, url: str, sessions, scale: Scale = FULL) -> list[Figure]:
    """Every z14 tile holding a lens from this app; on PostGIS beside tipg, the two alternating tile by tile."""
    headers = admin_header(sessions)
    tiles = sorted(
        {Tile.containing(lon, lat, ZOOM) for lon, lat in lens_points(sessions)}, key=lambda tile: (tile.x, tile.y)
    )
    with serving(url) as ours, requests.Session() as http:
        http.headers.update(headers)

        def our_tile(tile: Tile) -> str:
            return f"{ours}/tiles/lenses/{tile.z}/{tile.x}/{tile.y}.mvt"

        lenses_per_tile = sum(len(_lens_ids(http.get(our_tile(tile)).content)) for tile in tiles) / len(tiles)
        label = f"this app ({len(tiles)} tiles, avg {lenses_per_tile:.0f} lenses)"
        if backend != "postgis":
            return [_tile_figure(backend, label, time_tiles(http, our_tile, tiles))]
        return _beside_tipg(backend, url, tiles, http, our_tile, label, 1 if scale.quick else TILE_ROUNDS)


def _beside_tipg(
    backend: str, url: str, tiles: list[Tile], http: requests.Session, our_tile, label: str, rounds: int
) -> list[Figure]:
    """Ours and tipg's on the same tiles, alternating (which goes first swaps every tile): the p95 ratio."""
    version = importlib.metadata.version("tipg") if importlib.util.find_spec("tipg") else "?"
    with tipg_serving(url) as (base, reason), requests.Session() as tipg_http:
        if base is None:
            alone = _tile_figure(backend, label, time_tiles(http, our_tile, tiles))
            return [alone, peer(backend, f"z{ZOOM} tile over HTTP, tipg", "skipped", reason)]

        def tipg_tile(tile: Tile) -> str:
            return (
                f"{base}/collections/{TIPG_COLLECTION}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
                f"?properties={TIPG_PROPERTIES}"
            )

        for tile in tiles[:50]:
            if _lens_ids(tipg_http.get(tipg_tile(tile)).content, True) != _lens_ids(
                http.get(our_tile(tile)).content, True
            ):
                raise SystemExit(f"tipg and this app disagree on tile {tile}")
        cycles = {name: itertools.cycle(tiles) for name in ("ours", "tipg")}
        timings = alternate_calls(
            {
                "ours": lambda: fetch_tile(http, our_tile(next(cycles["ours"]))),
                "tipg": lambda: fetch_tile(tipg_http, tipg_tile(next(cycles["tipg"]))),
            },
            runs=rounds * len(tiles),
            warmup=len(tiles),
        )
    ours, theirs = timings["ours"], timings["tipg"]
    return [
        _tile_figure(backend, f"{label}, alternating with tipg", ours),
        peer(
            backend,
            f"z{ZOOM} tile over HTTP, tipg {version}, same table and tiles",
            theirs.measured,
            "the same lenses inside the first 50 tiles",
        ),
        at_most(
            backend,
            f"z{ZOOM} tile p95, this app against tipg, alternating in one run",
            f"p95 {ours.p95_ms:.1f} ms",
            ours.p95_ms / theirs.p95_ms,
            f"tipg's p95 ({theirs.p95_ms:.1f} ms)",
            TARGET_TIPG_RATIO,
        ),
    ]


def viewport(centre: tuple[float, float], zoom: int) -> tuple[float, float, float, float]:
    """The lon/lat box a VIEWPORT_PX map shows at `zoom` (256-pixel tiles) around `centre`."""
    lon, lat = centre
    degrees_per_px = 360 / (256 * 2**zoom)
    half_width, half_height = VIEWPORT_PX[0] / 2 * degrees_per_px, VIEWPORT_PX[1] / 2 * degrees_per_px
    half_height *= math.cos(math.radians(lat))  # Mercator: a latitude degree spans more pixels
    return lon - half_width, lat - half_height, lon + half_width, lat + half_height


def covering_tiles(box: tuple[float, float, float, float], zoom: int) -> list[Tile]:
    west, south, east, north = box
    top_left, bottom_right = Tile.containing(west, north, zoom), Tile.containing(east, south, zoom)
    return [
        Tile(zoom, x, y) for x in range(top_left.x, bottom_right.x + 1) for y in range(top_left.y, bottom_right.y + 1)
    ]


def bench_national(data_dir: Path) -> list[Figure]:
    """The national set on PostGIS: load it, then a viewport's map data (target under 1 s)."""
    directory = data_dir / "{preset}-{lenses}-{sites}-seed{seed}".format(**NATIONAL)
    start = time.perf_counter()
    generate_city(directory, **NATIONAL)
    lines = [
        peer("(none)", f"generate {NATIONAL['lenses']:,}-lens national set", f"{time.perf_counter() - start:.1f} s")
    ]
    with fresh_database("postgis") as engine:
        sessions = make_session_factory(engine)
        start = time.perf_counter()
        with sessions() as session:
            report = load_dataset(session, directory)
            session.commit()
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            # Committed, or the statistics roll back with the connection and the planner, blind on
            # 3,000,000 fresh rows, took over 120 s for one map view (0.03 s with them).
            connection.commit()
        lines.append(
            peer(
                "postgis",
                f"load {report.lenses:,} lenses",
                f"{time.perf_counter() - start:.1f} s",
                "too slow for every run: `--national`",
            )
        )
        centres = lens_points(sessions, VIEWPORTS, seed=9)
        headers = admin_header(sessions)
        with serving(engine.url.render_as_string(hide_password=False)) as ours, requests.Session() as http:
            http.headers.update(headers)
            # Tiles first: a map view given up on below may still run in the server for a while.
            lines += [_tiles_viewport_line(http, ours, centres, parallel) for parallel in (1, BROWSER_PARALLEL)]
            for zoom in VIEWPORT_ZOOMS:
                line, answered = _viewport_line(http, f"{ours}/api/v1/map", centres, zoom)
                lines.append(line)
                if not answered:
                    break
    return lines


def _viewport_line(http: requests.Session, map_api: str, centres, zoom: int) -> tuple[Figure, bool]:
    """What /map asks for one view: its lenses (clustered below zoom 16) and its communes with figures;
    False when a view took longer than VIEWPORT_TIMEOUT_S."""
    views, sizes = itertools.cycle(centres), []
    label = f"national viewport {VIEWPORT_PX[0]}x{VIEWPORT_PX[1]} at zoom {zoom}: /api/v1/map lenses + communes"

    def load_view():
        box = ",".join(f"{value:.6f}" for value in viewport(next(views), zoom))
        size = 0
        for layer in ("lenses", "communes"):
            response = http.get(f"{map_api}/{layer}", params={"bbox": box, "zoom": zoom}, timeout=VIEWPORT_TIMEOUT_S)
            if response.status_code != 200:
                raise SystemExit(f"{response.url}: {response.status_code} {response.text[:200]}")
            size += len(response.content)
        sizes.append(size)

    try:
        timing = time_calls(load_view, len(centres), warmup=1)
    except requests.Timeout:
        limit_ms = TARGET_VIEWPORT_S * 1000
        return under(
            "postgis", label, VIEWPORT_TIMEOUT_S * 1000, limit_ms, measured=f"over {VIEWPORT_TIMEOUT_S} s"
        ), False
    return _viewport_figure(f"{label} (max {max(sizes) / 1024:.0f} KiB)", timing), True


def _viewport_figure(label: str, timing) -> Figure:
    return timed_under("postgis", label, timing, TARGET_VIEWPORT_S * 1000)


def _tiles_viewport_line(http: requests.Session, ours: str, centres, parallel: int) -> Figure:
    """The z14 tiles covering a zoom-14 view, `parallel` at a time (a browser fetches about 6 at once)."""
    views, counts = itertools.cycle(centres), []

    def fetch(tile: Tile) -> None:
        http.get(f"{ours}/tiles/lenses/{tile.z}/{tile.x}/{tile.y}.mvt").raise_for_status()

    def load_tiles():
        tiles = covering_tiles(viewport(next(views), ZOOM), ZOOM)
        counts.append(len(tiles))
        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(fetch, tiles))

    timing = time_calls(load_tiles, len(centres), warmup=1)
    how = "one after another" if parallel == 1 else f"{parallel} at a time"
    return _viewport_figure(f"national viewport at zoom {ZOOM}: its {max(counts)} z{ZOOM} vector tiles, {how}", timing)
