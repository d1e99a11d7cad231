"""Routing speed (issue 16, item 4; issue 18, item 2): footage requests at city density, beside the 300 ms target.

    python -m benchmarks.routing            # both backends
    python -m benchmarks.routing --quick    # fewer requests on the smaller city of `make bench-quick`
    python -m benchmarks.routing --record   # also write its section of benchmarks/RESULTS.md

Per backend: the 55,000-lens city (benchmarks/__main__.py generates it) in a
fresh database, and commune police filing requests through the API
(create, route, announce, answer), taking turns so a machine whose load
moves slows them alike: a point next to a lens at 200 m (the reference), the
same at 1,000 m, a 10 km route across the city at the default 150 m,
an area request: a hexagon of 0.49 km² (just under the 0.5 km² limit)
around a lens, at 150 m, and a timed 5 km route at 150 m (times at its start,
middle and end, 30 km/h, so each lens gets its own window). Each is printed with its p95 beside the target and
against the 200 m point's (the others divide by it), and with the CPU time the benchmark's process spent on it
(`time.process_time`: the app's share, which other processes' load inflates less than the latency; on PostGIS
the server's share is not in it). Before the requests the garbage collector is given what loading the app made
(`gc.freeze()`), as each gunicorn worker does (deploy/gunicorn.conf.py).
`make bench` runs it too (`measure`), fewer requests on a smaller city with --quick.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from geoalchemy2.shape import to_shape
from sqlalchemy import select

from camera_registry import create_app
from camera_registry.db import make_session_factory
from camera_registry.geo.sectors import LocalFrame
from camera_registry.models import Lens
from camera_registry.services.requests import DEFAULT_RADIUS_M
from camera_registry.services.sample import load_dataset

from .__main__ import _off_lens, city_dataset, geojson, police_commune
from .harness import FIGURE_HEADER, FULL, QUICK, Figure, Scale, alternate_calls, fresh_database, reachable_backends
from .load import load_average, machine, record

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the API tests' request body, shared rather than copied

from request_support import request_body  # noqa: E402

SECTION = "## Routing speed (issue 16)"
TARGET_P95_MS = 300
RUNS, WARMUP = 40, 3
ROUTE_M, ROUTE_LEGS = 10_000, 10
#: A timed route (issue 18, item 1): half as long, timed where it starts, half-way and where it ends.
TIMED_ROUTE_M, TIMED_ROUTE_KMH = 5_000, 30
#: An area request's hexagon: (3√3 / 2) R² = 0.49 km² for a circumradius R of 434 m.
AREA_KM2, AREA_CORNERS = 0.49, 6
AREA_CORNER_M = math.sqrt(AREA_KM2 * 1e6 / (AREA_CORNERS / 2 * math.sin(2 * math.pi / AREA_CORNERS)))
#: (label, incident kind, radius in metres); the first is the reference the others are divided by.
REQUESTS = (
    ("200 m point (reference)", "point", 200),
    ("1,000 m point", "point", 1000),
    (f"{ROUTE_M / 1000:g} km route, {DEFAULT_RADIUS_M} m", "route", DEFAULT_RADIUS_M),
    (f"{AREA_KM2:g} km² area, {DEFAULT_RADIUS_M} m", "area", DEFAULT_RADIUS_M),
    (f"timed {TIMED_ROUTE_M / 1000:g} km route, {DEFAULT_RADIUS_M} m", "timed_route", DEFAULT_RADIUS_M),
)


def city_route(
    rng: random.Random, xs: np.ndarray, ys: np.ndarray, start: int, length_m: float = ROUTE_M
) -> tuple[np.ndarray, np.ndarray]:
    """About `length_m` long from lens `start` across the city: ROUTE_LEGS legs from lens to lens, each keeping
    its length while leading away from the start."""
    leg = length_m / ROUTE_LEGS
    path = [start]
    for k in range(1, ROUTE_LEGS + 1):
        away = np.abs(np.hypot(xs - xs[path[0]], ys - ys[path[0]]) - k * leg)
        path.append(int(np.argmin(4 * np.abs(np.hypot(xs - xs[path[-1]], ys - ys[path[-1]]) - leg) + away)))
    return np.asarray(_off_lens(rng, xs[path])), np.asarray(_off_lens(rng, ys[path]))


@dataclass
class Incidents:
    """The incidents the benchmark files, drawn from the officer's commune (its lenses in metres, `xs`, `ys`)
    and the whole city's (`city_xs`, `city_ys`): routes start in the commune, where filing checks them, and
    run across the city."""

    frame: LocalFrame
    xs: np.ndarray
    ys: np.ndarray
    city_xs: np.ndarray
    city_ys: np.ndarray
    rng: random.Random = field(default_factory=lambda: random.Random(16))

    @classmethod
    def of_city(cls, session) -> tuple[dict[str, str], Incidents]:
        """A new officer's Bearer header, and the incidents around their commune."""
        headers, frame, xs, ys = police_commune(session)
        points = [to_shape(point) for point in session.scalars(select(Lens.point))]
        city_xs, city_ys = frame.to_metres([p.x for p in points], [p.y for p in points])
        return headers, cls(frame, xs, ys, np.asarray(city_xs), np.asarray(city_ys))

    def fields(self, kind: str) -> dict:
        """The incident of a request of `kind`, and a timed route's times."""
        if kind != "timed_route":
            return {"incident": self.incident(kind)}
        route_xs, route_ys = self.route(TIMED_ROUTE_M)
        along = np.concatenate(([0.0], np.cumsum(np.hypot(np.diff(route_xs), np.diff(route_ys)))))
        passed = datetime.fromisoformat(request_body()["window_start"]) + timedelta(minutes=10)
        timed = {0, ROUTE_LEGS // 2, ROUTE_LEGS}
        times = [
            (passed + timedelta(seconds=m / (TIMED_ROUTE_KMH / 3.6))).isoformat() if k in timed else None
            for k, m in enumerate(along.tolist())
        ]
        return {"incident": geojson(self.frame, "LineString", route_xs, route_ys), "route_times": times}

    def route(self, length_m: float) -> tuple[np.ndarray, np.ndarray]:
        start = self.rng.randrange(len(self.xs))
        return city_route(
            self.rng,
            np.append(self.xs[start], self.city_xs),
            np.append(self.ys[start], self.city_ys),
            0,
            length_m,
        )

    def incident(self, kind: str) -> dict:
        rng, xs, ys = self.rng, self.xs, self.ys
        if kind == "point":
            i = rng.randrange(len(xs))
            return geojson(self.frame, "Point", _off_lens(rng, [xs[i]]), _off_lens(rng, [ys[i]]))
        if kind == "area":
            i, turn = rng.randrange(len(xs)), rng.uniform(0, 2 * math.pi)
            angles = turn + 2 * math.pi * np.arange(AREA_CORNERS + 1) / AREA_CORNERS  # closed: last = first
            ring = geojson(
                self.frame,
                "LineString",
                xs[i] + AREA_CORNER_M * np.sin(angles),
                ys[i] + AREA_CORNER_M * np.cos(angles),
            )
            ring["coordinates"][-1] = ring["coordinates"][0]
            return {"type": "Polygon", "coordinates": [ring["coordinates"]]}
        return geojson(self.frame, "LineString", *self.route(ROUTE_M))


def measure(backend: str, directory, scale: Scale = FULL) -> list[Figure]:
    with fresh_database(backend) as engine:
        sessions = make_session_factory(engine)
        with sessions() as session:
            load_dataset(session, directory)
            session.commit()
            headers, incidents = Incidents.of_city(session)

        answers: dict[str, list[dict]] = {label: [] for label, _, _ in REQUESTS}
        cpu_ms: dict[str, list[float]] = {label: [] for label, _, _ in REQUESTS}
        with tempfile.TemporaryDirectory(prefix="cr-bench-routing-") as instance:
            app = create_app(
                {
                    "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                    "INSTANCE_PATH": instance,
                    "SECRET_KEY": "bench",
                }
            )
            client = app.test_client()

            def filer(label: str, kind: str, radius_m: int):
                bodies = iter(
                    [
                        request_body(case_ref="BENCH-ROUTING", radius_m=radius_m, **incidents.fields(kind))
                        for _ in range(WARMUP + runs)
                    ]
                )

                def file():
                    started = time.process_time()
                    response = client.post("/api/v1/footage-requests", headers=headers, json=next(bodies))
                    cpu_ms[label].append((time.process_time() - started) * 1000)
                    if response.status_code != 201:
                        raise SystemExit(f"{backend} {label}: {response.status_code} {response.get_data(as_text=True)}")
                    answers[label].append(response.get_json())

                return file

            runs = scale.calls(RUNS)
            # As each gunicorn worker does once it has loaded the app (deploy/gunicorn.conf.py post_worker_init).
            gc.collect()
            gc.freeze()
            try:
                timings = alternate_calls({label: filer(label, kind, r) for label, kind, r in REQUESTS}, runs, WARMUP)
            finally:
                gc.unfreeze()
            app.extensions["engine"].dispose()
    reference = timings[REQUESTS[0][0]]
    figures = []
    for label, _, _ in REQUESTS:
        timing, measured, cpu = timings[label], answers[label][WARMUP:], cpu_ms[label][WARMUP:]
        within, routed, owners = (
            np.mean([len(a["assignments"]) if key == "owners" else a[key] for a in measured])
            for key in ("lenses_considered", "lenses_routed", "owners")
        )
        measure = f"POST {label}: {within:.0f} lenses within, {routed:.0f} routed, {owners:.0f} owners"
        ratio = timing.p95_ms / reference.p95_ms
        figures.append(
            Figure(
                backend,
                measure,
                f"{timing.measured}; CPU here p50 {np.median(cpu):.1f} ms, p95 {np.percentile(cpu, 95):.1f} ms",
                ratio,
                f"the 200 m point's p95 ({reference.p95_ms:.1f} ms)",
                f"p95 < {TARGET_P95_MS} ms",
                timing.p95_ms < TARGET_P95_MS,
            )
        )
    return figures


def section(lines: list[str], before: str, after: str, command: str) -> str:
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {date.today().isoformat()} on {machine()} with `{command}`: {RUNS} requests of each kind "
            f"through the API, taking turns, on the 55,000-lens city. Load average (1, 5, 15 min) before: {before}; "
            f"after: {after}.",
            "",
            f"Target (issue 16, item 4): a {ROUTE_M / 1000:g} km route and a 1,000 m radius request p95 under "
            f"{TARGET_P95_MS} ms on both backends at city density; (issue 18, items 2 and 1) an area request and a "
            f"timed {TIMED_ROUTE_M / 1000:g} km route too.",
            "",
            *FIGURE_HEADER,
            *lines,
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("spatialite", "postgis"), action="append")
    parser.add_argument("--record", action="store_true", help="also write its section of benchmarks/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="fewer requests on the quick suite's smaller city")
    args = parser.parse_args(argv)
    backends, skipped = reachable_backends(args.backend or ["spatialite", "postgis"])
    scale = QUICK if args.quick else FULL
    directory, _ = city_dataset(scale)
    before = load_average()
    lines = [figure.line for backend in backends for figure in measure(backend, directory, scale)] + skipped
    after = load_average()
    print("\n".join([*FIGURE_HEADER, *lines]), flush=True)
    print(f"load average before: {before}; after: {after}", flush=True)
    if args.record:
        command = "python -m benchmarks.routing" + (" " + " ".join(argv) if argv else "")
        record(section(lines, before, after, command), title=SECTION)


if __name__ == "__main__":
    main(sys.argv[1:])
