"""How much of each commune the active lenses see, and of its road length: kept per commune, refreshed where a
change touched it.

A commune's coverage depends on every active lens whose field of view can reach into it (its own and its
neighbours' near the edge), on which of them an active commitment covers, on its roads and on its boundary. The
commune figures' recount turns the trigger marks of lens, recorder and commitment writes into coverage marks, a
trigger marks a commune whose boundary changes, and the road loader marks the communes its roads cross. The
refresh recomputes the marked communes and those within the longest lens range of them, those a commitment's
start or end has overtaken (`exact_until`) and those never computed: it reads in a read unit, computes outside
any transaction (the geometry takes tens of milliseconds a commune and must not hold SQLite's write lock) and
stores a few communes per write unit, leaving alone any commune marked again meanwhile.

A read never writes: it hands out the stored rows, saying which are stale (a change waits for the refresh), and
computes a commune never computed itself.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, and_, delete, func, insert, or_, select, true
from sqlalchemy.orm import Session, sessionmaker

from ..db import READ, open_session, write_unit
from ..geo.coverage import Cover, SeeingLenses, commune_cover, reaching
from ..geo.metric import expand_bounds
from ..geo.spatial import Envelope, within_envelope
from ..models import (
    AdminLevel,
    AdminUnit,
    CommuneCoverage,
    CommuneFigureMark,
    CoverageDrawing,
    CoverageMark,
    Lens,
    LensStatus,
    Recorder,
    Road,
    SharingCommitment,
)
from ..models.base import utcnow
from .commune_figures import commitment_edges, shared_recorders
from .rules import MAX_RANGE_M

#: The zoom bands the unions are stored simplified for; a map draws the first band at or above its zoom.
DRAWING_ZOOMS = (11, 14, 17)
#: Threads computing communes at once: GEOS and PROJ, where nearly all the time goes, release the GIL, and each
#: commune's geometries and frame are its own (the readings they share are only read).
COVER_THREADS = min(4, os.cpu_count() or 1)
#: Communes stored per write unit: a commune's rows are its figures and a drawing per band.
COMMUNES_PER_UNIT = 10
#: The figures a stored row and a computed cover both carry, by the same names.
FIGURE_FIELDS = ("area_km2", "seen_km2", "shared_seen_km2", "road_km", "road_seen_km", "road_shared_seen_km")

Target = Session | sessionmaker


class CoverageShares:
    """The shares seen of the area and road length its class carries (`area_km2`, `seen_km2`, ..., `road_km`):
    one commune's, or the sums of a roll-up's communes (services/stats.py)."""

    @property
    def seen_share(self) -> float | None:
        return _share(self.seen_km2, self.area_km2)

    @property
    def shared_seen_share(self) -> float | None:
        return _share(self.shared_seen_km2, self.area_km2)

    @property
    def road_seen_share(self) -> float | None:
        return _share(self.road_seen_km, self.road_km)

    @property
    def road_shared_seen_share(self) -> float | None:
        return _share(self.road_shared_seen_km, self.road_km)


@dataclass(frozen=True)
class CoverageFigures(CoverageShares):
    """A commune's area and road length seen by at least one active lens, and one shared lens. `stale`: a change
    waits for the refresh, and these figures are from before it."""

    area_km2: float
    seen_km2: float
    shared_seen_km2: float
    road_km: float | None
    road_seen_km: float | None
    road_shared_seen_km: float | None
    computed_at: datetime
    stale: bool


@dataclass(frozen=True)
class CoverageShape:
    """A commune's union of active fields of view and of shared ones, clipped to it, as GeoJSON geometries."""

    commune_id: int
    seen: dict
    shared_seen: dict
    computed_at: datetime
    stale: bool


def _share(part: float | None, whole: float | None) -> float | None:
    return part / whole if part is not None and whole else None


@dataclass(frozen=True)
class _Computed:
    commune_id: int
    bounds: Envelope
    cover: Cover
    exact_until: datetime | None
    #: zoom band -> the GeoJSON texts of the union of all and of the shared fields of view
    drawings: dict[int, tuple[str, str]]


# --------------------------------------------------------------------------- reading and computing


def _boundaries(session: Session, commune_ids: Collection[int] | None) -> dict[int, BaseGeometry]:
    """The drawn boundaries of these communes (None: of every commune)."""
    query = select(AdminUnit.id, func.ST_AsBinary(AdminUnit.boundary)).where(
        AdminUnit.level == AdminLevel.COMMUNE, AdminUnit.boundary.is_not(None)
    )
    if commune_ids is not None:
        query = query.where(AdminUnit.id.in_(sorted(commune_ids)))
    rows = session.execute(query).all()
    return dict(zip((unit_id for unit_id, _ in rows), _shapes(wkb for _, wkb in rows)))


def _shapes(wkbs: Iterable) -> np.ndarray:
    """Geometries from the database's plain WKB, parsed in one call: the geometry columns' own loading (EWKB
    through GeoAlchemy2, one shape at a time) took 0.5 s for Hà Nội's 126 boundaries, this 0.02 s."""
    return shapely.from_wkb([bytes(wkb) for wkb in wkbs])


@dataclass(frozen=True)
class Reading:
    """Everything the computation of some communes needs, read in one read unit."""

    boundaries: dict[int, BaseGeometry]
    lenses: SeeingLenses
    owners: np.ndarray
    reach_m: float
    roads: np.ndarray
    owner_changes: dict[int, datetime]


def _read(session: Session, boundaries: dict[int, BaseGeometry], now: datetime) -> Reading:
    """The active lenses that can reach into these communes (with whether they are shared at `now` and their
    owner), the roads near them and when each owner's sharing next changes."""
    bind = session.get_bind()
    reach_m = float(session.scalar(select(func.max(Lens.range_m)).where(Lens.status == LensStatus.ACTIVE)) or 0.0)
    rows, roads = [], []
    if boundaries:
        box = shapely.unary_union([shapely.box(*shape.bounds) for shape in boundaries.values()]).bounds
        shared = shared_recorders(now)
        # Through the connection: the ORM's row loading costs more than the query on 55,000 lenses.
        rows = (
            session.connection()
            .execute(
                select(
                    func.ST_X(Lens.point),
                    func.ST_Y(Lens.point),
                    Lens.bearing_deg,
                    Lens.fov_deg,
                    Lens.range_m,
                    shared.c.id.is_not(None),
                    Recorder.owner_id,
                )
                .join(Recorder, Recorder.id == Lens.recorder_id)
                .join(shared, shared.c.id == Lens.recorder_id, isouter=True)
                .where(Lens.status == LensStatus.ACTIVE, within_envelope(bind, Lens.point, expand_bounds(box, reach_m)))
            )
            .all()
        )
        roads = _shapes(
            session.scalars(select(func.ST_AsBinary(Road.geometry)).where(within_envelope(bind, Road.geometry, box)))
        )
    columns = list(zip(*rows)) if rows else [()] * 7
    lenses = SeeingLenses.of(
        columns[0], columns[1], [np.nan if b is None else b for b in columns[2]], columns[3], columns[4], columns[5]
    )
    owner_changes = {}
    for owner_id, *moments in session.execute(
        select(SharingCommitment.owner_id, *commitment_edges(now)).group_by(SharingCommitment.owner_id)
    ):
        future = [moment for moment in moments if moment is not None]
        if future:
            owner_changes[owner_id] = min(future)
    return Reading(
        boundaries, lenses, np.asarray(columns[6], dtype=int), reach_m, np.array(roads, dtype=object), owner_changes
    )


def compute_covers(reading: Reading) -> list[_Computed]:
    """Each commune's cover; pure geometry, run outside any transaction, communes side by side on COVER_THREADS."""
    ids = sorted(reading.boundaries)
    bounds = [reading.boundaries[commune_id].bounds for commune_id in ids]
    candidates = reaching(bounds, reading.lenses.lons, reading.lenses.lats, reading.reach_m)
    road_tree = shapely.STRtree(reading.roads) if len(reading.roads) else None
    roads_near = [reading.roads[road_tree.query(shapely.box(*box))] if road_tree is not None else () for box in bounds]

    def one(commune_id: int, box: Envelope, near: np.ndarray, roads) -> _Computed:
        changes = [reading.owner_changes[o] for o in set(reading.owners[near].tolist()) if o in reading.owner_changes]
        cover = commune_cover(reading.boundaries[commune_id], reading.lenses.take(near), roads)
        drawings = cover.drawings(DRAWING_ZOOMS)
        return _Computed(commune_id, box, cover, min(changes, default=None), drawings)

    with ThreadPoolExecutor(COVER_THREADS) as pool:
        return list(pool.map(one, ids, bounds, candidates, roads_near))


def read_inputs(session: Session, commune_ids: Collection[int] | None, now: datetime) -> Reading:
    """What computing these communes' covers needs (None: every commune with a boundary), read in `session`."""
    return _read(session, _boundaries(session, commune_ids), now)


def compute_now(session: Session, commune_ids: Collection[int], now: datetime) -> list[_Computed]:
    """These communes' covers as the registry stands, read in `session` and computed here (no write)."""
    boundaries = _boundaries(session, commune_ids) if commune_ids else {}
    return compute_covers(_read(session, boundaries, now)) if boundaries else []


# --------------------------------------------------------------------------- storing


def _drawings(computed: _Computed) -> list[dict]:
    return [
        {"commune_id": computed.commune_id, "zoom": zoom, "seen_geojson": seen, "shared_seen_geojson": shared_seen}
        for zoom, (seen, shared_seen) in computed.drawings.items()
    ]


def _row(computed: _Computed, now: datetime) -> dict:
    min_lon, min_lat, max_lon, max_lat = computed.bounds
    return {
        "commune_id": computed.commune_id,
        **{name: getattr(computed.cover, name) for name in FIGURE_FIELDS},
        "min_lon": min_lon,
        "min_lat": min_lat,
        "max_lon": max_lon,
        "max_lat": max_lat,
        "computed_at": now,
        "exact_until": computed.exact_until,
    }


def _store(session: Session, batch: list[tuple[dict, list[dict]]], watermark: int | None) -> int:
    """Store computed communes in place of their rows, but none a mark newer than `watermark` touches (it was
    computed from what that change made old: the next refresh computes it again). The count stored."""
    if watermark is not None:
        remarked = set(session.scalars(select(CoverageMark.commune_id).where(CoverageMark.id > watermark)))
        left_alone = near_communes(session, remarked)
        batch = [(row, drawings) for row, drawings in batch if row["commune_id"] not in left_alone]
    if not batch:
        return 0
    ids = sorted(row["commune_id"] for row, _ in batch)
    session.execute(delete(CoverageDrawing).where(CoverageDrawing.commune_id.in_(ids)))
    session.execute(delete(CommuneCoverage).where(CommuneCoverage.commune_id.in_(ids)))
    session.execute(insert(CommuneCoverage), [row for row, _ in batch])
    session.execute(insert(CoverageDrawing), [drawing for _, drawings in batch for drawing in drawings])
    return len(batch)


def _units(target: Target) -> tuple[Callable, Callable]:
    """How to open a read and run a write on `target`: a session's own transaction (the caller commits), or
    read and write units of a session factory."""
    if isinstance(target, Session):
        return (lambda: nullcontext(target)), (lambda work: work(target))
    return (lambda: open_session(target, READ)), (lambda work: write_unit(target, work))


def _compute_and_store(target: Target, pick: Callable[[Session], tuple[set[int], int | None]], now: datetime):
    read, write = _units(target)
    with read() as session:
        commune_ids, watermark = pick(session)
        reading = read_inputs(session, commune_ids, now)
    computed = compute_covers(reading)
    stored = 0
    for start in range(0, len(computed), COMMUNES_PER_UNIT):
        batch = [(_row(one, now), _drawings(one)) for one in computed[start : start + COMMUNES_PER_UNIT]]
        stored += write(lambda session, batch=batch: _store(session, batch, watermark))
    if watermark is not None:
        write(lambda session: session.execute(delete(CoverageMark).where(CoverageMark.id <= watermark)))
    return Counter(coverage_computed=len(computed), coverage_stored=stored)


def recompute_coverage(target: Target, commune_ids: Collection[int] | None, now: datetime) -> Counter:
    """Compute and store these communes' coverage afresh (None: every commune with a boundary), marks or not."""
    return _compute_and_store(
        target, lambda session: (set(commune_ids) if commune_ids is not None else None, None), now
    )


def refresh_coverage(target: Target, now: datetime) -> Counter:
    """Recompute the communes a change touched (and those within a lens's range of them), those a commitment's
    start or end overtook, and those never computed; take the marks they were read after."""
    return +_compute_and_store(target, lambda session: _stale_communes(session, now), now)


def refresh_commune_coverage(sessions: sessionmaker, settings, now: datetime) -> Counter:
    """The scheduler's job (services run in their own units): `refresh_coverage` on the session factory."""
    return refresh_coverage(sessions, now)


def _stale_communes(session: Session, now: datetime) -> tuple[set[int], int]:
    watermark = session.scalar(select(func.coalesce(func.max(CoverageMark.id), 0)))
    marked = set(session.scalars(select(CoverageMark.commune_id).where(CoverageMark.id <= watermark)))
    overtaken = set(session.scalars(select(CommuneCoverage.commune_id).where(CommuneCoverage.exact_until <= now)))
    drawn = set(
        session.scalars(
            select(AdminUnit.id).where(AdminUnit.level == AdminLevel.COMMUNE, AdminUnit.boundary.is_not(None))
        )
    )
    computed = set(session.scalars(select(CommuneCoverage.commune_id)))
    return (near_communes(session, marked) | overtaken | (drawn - computed)) & drawn, watermark


def near_communes(session: Session, commune_ids: Iterable[int]) -> set[int]:
    """These communes and every commune whose bounds lie within the longest lens range allowed of theirs: those
    whose coverage a change to their lenses can alter (by their stored bounds; a commune never computed has
    none, and is computed anyway)."""
    ids = set(commune_ids)
    if not ids:
        return ids
    boxes = [
        expand_bounds(tuple(box), MAX_RANGE_M)
        for (*box,) in session.execute(
            select(
                CommuneCoverage.min_lon, CommuneCoverage.min_lat, CommuneCoverage.max_lon, CommuneCoverage.max_lat
            ).where(CommuneCoverage.commune_id.in_(sorted(ids)))
        )
    ]
    if boxes:
        ids |= set(session.scalars(select(CommuneCoverage.commune_id).where(or_(*(_meets(box) for box in boxes)))))
    return ids


def _meets(box: Envelope):
    min_lon, min_lat, max_lon, max_lat = box
    return and_(
        CommuneCoverage.max_lon >= min_lon,
        CommuneCoverage.min_lon <= max_lon,
        CommuneCoverage.max_lat >= min_lat,
        CommuneCoverage.min_lat <= max_lat,
    )


def mark_communes(session: Session, commune_ids: Iterable[int]) -> None:
    """Mark communes whose coverage a change touched (in the writer's transaction)."""
    rows = [{"commune_id": commune_id} for commune_id in sorted(set(commune_ids))]
    if rows:
        session.execute(insert(CoverageMark), rows)


# --------------------------------------------------------------------------- reading


def _waiting(session: Session, now: datetime) -> set[int]:
    """The communes whose stored coverage a pending change makes old: marked (for coverage, or for the figures'
    recount, which hands its marks on), near one marked, or overtaken by a commitment's start or end."""
    marked = set(session.scalars(select(CoverageMark.commune_id))) | set(
        session.scalars(select(CommuneFigureMark.commune_id))
    )
    overtaken = set(session.scalars(select(CommuneCoverage.commune_id).where(CommuneCoverage.exact_until <= now)))
    return near_communes(session, marked) | overtaken


def coverage_figures(session: Session, commune_ids: Collection[int], now: datetime) -> dict[int, CoverageFigures]:
    """Each commune's coverage: its stored row (stale when a change waits for the refresh), or computed here for
    a commune never computed yet. Communes without a boundary are left out."""
    ids = sorted(set(commune_ids))
    if not ids:
        return {}
    waiting = _waiting(session, now)
    figures = {
        row.commune_id: _figures(row, row.computed_at, row.commune_id in waiting)
        for row in session.scalars(select(CommuneCoverage).where(CommuneCoverage.commune_id.in_(ids)))
    }
    for computed in compute_now(session, [i for i in ids if i not in figures], now):
        figures[computed.commune_id] = _figures(computed.cover, now, False)
    return figures


def _figures(source: CommuneCoverage | Cover, computed_at: datetime, stale: bool) -> CoverageFigures:
    return CoverageFigures(*(getattr(source, name) for name in FIGURE_FIELDS), computed_at, stale)


def drawing_zoom(zoom: float) -> int:
    """The stored band a map at `zoom` draws: the first at or above it, the finest closer in."""
    return next((band for band in DRAWING_ZOOMS if band >= zoom), DRAWING_ZOOMS[-1])


def _drawn(envelope: Envelope, zoom: float, commune_ids: Collection[int] | None) -> Select:
    """The stored drawings of the band for `zoom` of the computed communes whose bounds meet the view (of these
    communes; None: of all)."""
    chosen = CommuneCoverage.commune_id.in_(sorted(commune_ids)) if commune_ids is not None else true()
    return (
        select()
        .select_from(CommuneCoverage)
        .join(CoverageDrawing, CoverageDrawing.commune_id == CommuneCoverage.commune_id)
        .where(CoverageDrawing.zoom == drawing_zoom(zoom), _meets(envelope), chosen)
    )


def coverage_shapes(
    session: Session, envelope: Envelope, zoom: float, commune_ids: Collection[int] | None = None
) -> list[CoverageShape]:
    """Per computed commune whose bounds meet the view (of these communes; None: of all), its unions of fields of
    view simplified for `zoom`."""
    waiting = _waiting(session, utcnow())
    rows = session.execute(
        _drawn(envelope, zoom, commune_ids)
        .add_columns(
            CommuneCoverage.commune_id,
            CommuneCoverage.computed_at,
            CoverageDrawing.seen_geojson,
            CoverageDrawing.shared_seen_geojson,
        )
        .order_by(CommuneCoverage.commune_id)
    )
    return [
        CoverageShape(commune_id, json.loads(seen), json.loads(shared_seen), computed_at, commune_id in waiting)
        for commune_id, computed_at, seen, shared_seen in rows
    ]


def coverage_shapes_size(
    session: Session, envelope: Envelope, zoom: float, commune_ids: Collection[int] | None = None
) -> int:
    """How many characters of GeoJSON `coverage_shapes` would hand out, counted without reading them: for a
    bound on what one view sends."""
    size = func.length(CoverageDrawing.seen_geojson) + func.length(CoverageDrawing.shared_seen_geojson)
    return int(session.scalar(_drawn(envelope, zoom, commune_ids).add_columns(func.coalesce(func.sum(size), 0))))
