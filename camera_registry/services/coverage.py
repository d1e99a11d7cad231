"""The coverage map's data: lenses clustered or one by one, commune boundaries with their figures, and what the
lenses see of each commune.

A whole-city view must never ship 55,000 lenses: below LENS_MIN_ZOOM, or when
a view holds more than MAX_LENSES, lenses are aggregated on a grid in one
GROUP BY; closer in, each lens comes with what its field-of-view wedge needs.
The seen areas are sent simplified for a coarser zoom band instead while the
view's own band adds up to more than MAX_COVERAGE_CHARS, and refused below
COVERAGE_MIN_ZOOM, over more than MAX_COVERAGE_COMMUNES communes, or when even
the coarsest band is too much.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from geoalchemy2.shape import to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session

from ..geo.mapview import area_km2, grid_cell_deg, simplified_for_zoom
from ..geo.spatial import Envelope, grid_index, within_envelope
from ..models import AdminLevel, AdminUnit, CommuneShape, Lens, LensStatus, Owner, OwnerKind, Recorder, Site
from ..models.base import utcnow
from ..timezones import local_today
from .access import Actor
from .cameras import get_lens
from .commitments import mark_shared
from .commune_coverage import DRAWING_ZOOMS, coverage_shapes, coverage_shapes_size, drawing_zoom
from .commune_figures import drawn_zoom, shared_recorders
from .errors import ValidationFailed
from .listing import readable
from .messages import field_refusal, refusal
from .owners import OwnerCard, owner_cards
from .stats import Tally, commune_tallies, period_of_days

LENS_MIN_ZOOM = 16
MAX_LENSES = 2_000
CLUSTER_CELL_PX = 64
MAX_CELLS_ACROSS = 64
#: Farther out a lens's field of view is a few pixels: the map hides the coverage layer, the API refuses it.
COVERAGE_MIN_ZOOM = 11
#: What one coverage view may hold: the 55,000-lens city's 126 communes at zoom 11 (380 kB) fit.
MAX_COVERAGE_COMMUNES = 150
#: And what it may send: its 126 communes' drawings for zoom 14 (3.2 MB) do not (they go for zoom 11), a ward's at
#: zoom 17 (at most 350 kB) do.
MAX_COVERAGE_CHARS = 1_500_000


@dataclass(frozen=True)
class LensFilter:
    """Which lenses to draw; `status` None means every lens not removed."""

    status: LensStatus | None = None
    shared: bool | None = None
    owner_kind: OwnerKind | None = None


@dataclass(frozen=True)
class LensCluster:
    lon: float
    lat: float
    lenses: int
    shared_lenses: int


@dataclass(frozen=True)
class MapLens:
    id: int
    lon: float
    lat: float
    bearing_deg: float | None
    fov_deg: float
    range_m: float
    status: LensStatus
    shared: bool
    owner_kind: OwnerKind


@dataclass(frozen=True)
class MapLenses:
    """Either clusters (with the grid's cell size in degrees) or single lenses, never both."""

    clusters: list[LensCluster]
    lenses: list[MapLens]
    cell_deg: float | None


def map_lenses(
    session: Session,
    actor: Actor,
    bbox: Envelope,
    zoom: float,
    lens_filter: LensFilter = LensFilter(),
    now: datetime | None = None,
) -> MapLenses:
    """The lenses in reach inside `bbox`, as the map at `zoom` draws them."""
    shared = shared_recorders(now or utcnow())
    is_shared = shared.c.id.is_not(None)
    statement = _filtered(session, actor, bbox, lens_filter, shared, is_shared)
    if zoom >= LENS_MIN_ZOOM:
        rows = session.execute(
            _with_owner(statement, lens_filter)
            .add_columns(
                Lens.id,
                func.ST_X(Lens.point),
                func.ST_Y(Lens.point),
                Lens.bearing_deg,
                Lens.fov_deg,
                Lens.range_m,
                Lens.status,
                is_shared,
                Owner.kind,
            )
            .order_by(Lens.id)
            .limit(MAX_LENSES + 1)
        ).all()
        if len(rows) <= MAX_LENSES:
            return MapLenses([], [MapLens(*row[:7], bool(row[7]), row[8]) for row in rows], None)
    bind = session.get_bind()
    cell = grid_cell_deg(zoom, bbox, CLUSTER_CELL_PX, MAX_CELLS_ACROSS)
    column = grid_index(bind, func.ST_X(Lens.point), -180, cell)
    row = grid_index(bind, func.ST_Y(Lens.point), -90, cell)
    if lens_filter.owner_kind is not None:
        statement = _with_owner(statement, lens_filter)
    clusters = session.execute(
        statement.add_columns(
            func.avg(func.ST_X(Lens.point)),
            func.avg(func.ST_Y(Lens.point)),
            func.count(),
            func.sum(case((is_shared, 1), else_=0)),
        ).group_by(column, row)
    ).all()
    return MapLenses([LensCluster(*cluster) for cluster in clusters], [], cell)


def _filtered(session: Session, actor: Actor, bbox: Envelope, lens_filter: LensFilter, shared, is_shared) -> Select:
    statement = (
        select()
        .select_from(Lens)
        .join(shared, shared.c.id == Lens.recorder_id, isouter=True)
        .where(readable(actor, Lens.commune_id), within_envelope(session.get_bind(), Lens.point, bbox))
    )
    if lens_filter.status is None:
        statement = statement.where(Lens.status != LensStatus.REMOVED)
    else:
        statement = statement.where(Lens.status == lens_filter.status)
    if lens_filter.shared is not None:
        statement = statement.where(is_shared if lens_filter.shared else ~is_shared)
    return statement


def _with_owner(statement: Select, lens_filter: LensFilter) -> Select:
    """Joined only where needed (a filter on it, single lenses): clusters of every owner skip two joins."""
    statement = statement.join(Recorder, Lens.recorder_id == Recorder.id).join(Owner, Recorder.owner_id == Owner.id)
    if lens_filter.owner_kind is not None:
        statement = statement.where(Owner.kind == lens_filter.owner_kind)
    return statement


@dataclass(frozen=True)
class DrawnBoundary:
    """A boundary stored simplified and serialised (commune_shapes): GeoJSON writers read it as a geometry."""

    geojson: str

    @property
    def __geo_interface__(self) -> dict:
        return json.loads(self.geojson)


@dataclass(frozen=True)
class MapCommune:
    code: str
    name: str
    boundary: BaseGeometry | DrawnBoundary
    area_km2: float
    figures: Tally

    @property
    def lens_density(self) -> float | None:
        """Active lenses per square kilometre."""
        return self.figures.lenses_active / self.area_km2 if self.area_km2 else None


def map_communes(
    session: Session, actor: Actor, bbox: Envelope, zoom: float, now: datetime | None = None
) -> list[MapCommune]:
    """Current communes in reach meeting `bbox`, boundaries simplified for `zoom`, with their figures
    (requests: those opened in the default period, the last 30 days).

    Boundaries come as stored for the next whole zoom (commune_shapes); one not stored yet is simplified here.
    """
    now = now or utcnow()
    rows = session.execute(
        select(AdminUnit.id, AdminUnit.code, AdminUnit.name, CommuneShape.geojson, CommuneShape.area_km2)
        .join(
            CommuneShape,
            and_(CommuneShape.commune_id == AdminUnit.id, CommuneShape.zoom == drawn_zoom(zoom)),
            isouter=True,
        )
        .where(*_current(actor, now), within_envelope(session.get_bind(), AdminUnit.boundary, bbox))
        .order_by(AdminUnit.code)
    ).all()
    tallies = commune_tallies(session, [row.id for row in rows], period_of_days(today=local_today(now)), now)
    undrawn = [row.id for row in rows if row.geojson is None]
    boundaries = select(AdminUnit.id, AdminUnit.boundary).where(AdminUnit.id.in_(undrawn))
    shapes = {unit_id: to_shape(boundary) for unit_id, boundary in session.execute(boundaries)} if undrawn else {}
    return [
        MapCommune(row.code, row.name, DrawnBoundary(row.geojson), row.area_km2, tallies[row.id])
        if row.geojson is not None
        else MapCommune(
            row.code, row.name, simplified_for_zoom(shapes[row.id], zoom), area_km2(shapes[row.id]), tallies[row.id]
        )
        for row in rows
    ]


@dataclass(frozen=True)
class CoverageUnion:
    """One of a commune's two drawn unions: `seen` (every active lens) or `shared_seen` (shared lenses only)."""

    code: str
    union: str
    drawing: dict
    computed_at: datetime
    stale: bool


def map_coverage(
    session: Session, actor: Actor, bbox: Envelope, zoom: float, now: datetime | None = None
) -> list[CoverageUnion]:
    """What the lenses see of each current commune in reach meeting `bbox`, simplified for `zoom` (or coarser, to
    stay under MAX_COVERAGE_CHARS), by commune code: its seen union then its shared one. A commune never computed
    has none until the refresh computes it."""
    if zoom < COVERAGE_MIN_ZOOM:
        _refused("zoom", refusal("coverage is drawn from zoom %(zoom)s in", zoom=COVERAGE_MIN_ZOOM))
    codes = dict(
        session.execute(
            select(AdminUnit.id, AdminUnit.code)
            .where(*_current(actor, now or utcnow()), within_envelope(session.get_bind(), AdminUnit.boundary, bbox))
            .limit(MAX_COVERAGE_COMMUNES + 1)
        ).all()
    )
    if len(codes) > MAX_COVERAGE_COMMUNES:
        _refused("bbox", refusal("the view meets more than %(most)s communes: zoom in", most=MAX_COVERAGE_COMMUNES))
    # As lenses are clustered when too many: a coarser band when the zoom's own is too much to send.
    bands = [band for band in reversed(DRAWING_ZOOMS) if band <= drawing_zoom(zoom)]
    band = next(
        (band for band in bands if coverage_shapes_size(session, bbox, band, codes) <= MAX_COVERAGE_CHARS), None
    )
    if band is None:
        too_big = refusal(
            "the coverage of the view is more than %(most)s MB to draw: zoom in", most=MAX_COVERAGE_CHARS / 1e6
        )
        _refused("bbox", too_big)
    return [
        CoverageUnion(codes[shape.commune_id], union, drawing, shape.computed_at, shape.stale)
        for shape in sorted(coverage_shapes(session, bbox, band, codes), key=lambda shape: codes[shape.commune_id])
        for union, drawing in (("seen", shape.seen), ("shared_seen", shape.shared_seen))
    ]


def _refused(field: str, reason) -> None:
    raise ValidationFailed(field_refusal(field, reason), {field: [reason]})


def reach_extent(session: Session, actor: Actor, now: datetime | None = None) -> Envelope | None:
    """The lon/lat box of the current communes in reach: where the map opens."""
    units = session.scalars(select(AdminUnit).where(*_current(actor, now or utcnow())))
    bounds = [to_shape(unit.boundary).bounds for unit in units]
    if not bounds:
        return None
    return (min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds), max(b[3] for b in bounds))


def _current(actor: Actor, now: datetime) -> list[ColumnElement[bool]]:
    """Communes in reach with a boundary, valid on today's date in Vietnam."""
    return [
        AdminUnit.level == AdminLevel.COMMUNE,
        AdminUnit.boundary.is_not(None),
        readable(actor, AdminUnit.id),
        AdminUnit.valid_on(local_today(now)),
    ]


@dataclass(frozen=True)
class LensSummary:
    """What a click on a lens shows: the lens, its recorder and site, and what the actor may see of the owner."""

    lens: Lens
    recorder: Recorder
    site: Site | None
    owner: OwnerCard


def lens_summary(session: Session, actor: Actor, lens_id: int) -> LensSummary:
    """Owner contact data only for roles allowed to see it; each disclosure is audited."""
    lens = get_lens(session, actor, lens_id)
    recorder = mark_shared(session, [lens.recorder])[0]
    return LensSummary(lens, recorder, recorder.site, owner_cards(session, actor, [recorder.owner], seen_on="map")[0])
