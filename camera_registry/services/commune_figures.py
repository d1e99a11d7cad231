"""Each commune's registry counts and drawn boundaries kept as a summary, so figures and the map read one row per
commune instead of every lens.

Every write to lenses, recorders, owners, sites, commitments and the recorders they list marks the communes it
touches, in the writer's own transaction, by database triggers (migration 0014): the ORM, the bulk writer's COPY
and the editions' moves alike, with no write path to forget. The scheduler recounts the marked communes
(`refresh`). A reader takes a commune's stored row only while no mark is pending for it and no commitment has
started, ended or been revoked there since it was counted (`exact_until`), and counts the others itself: the
figures are never stale, a read never writes, and a read costs one row per commune once the scheduler has caught up.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Collection, Iterable
from datetime import datetime

from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Subquery, and_, case, delete, func, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..db import READ, open_session, write_unit
from ..geo.mapview import area_km2, simplified_for_zoom
from ..models import (
    AdminLevel,
    AdminUnit,
    CommuneFigureMark,
    CommuneFigures,
    CommuneShape,
    CoverageMark,
    Lens,
    LensStatus,
    Owner,
    Recorder,
    RecorderStatus,
    SharingCommitment,
    Site,
)
from .commitments import recorder_is_shared

#: The registry counts a summary row holds: the Tally fields of the same names.
REGISTRY_FIELDS = (
    "lenses_active",
    "lenses_offline",
    "shared_active_lenses",
    "recorders",
    "owners_household",
    "owners_agency",
    "owners_business",
    "sites",
)
#: The whole zooms a boundary is stored simplified for; a map between two draws the next finer one.
SHAPE_ZOOMS = range(5, 18)
#: Boundaries the scheduler's job stores per write unit, and per run (the rest wait for its next run; until
#: then the map simplifies those boundaries itself).
SHAPES_PER_UNIT, SHAPES_PER_RUN = 10, 100


def drawn_zoom(zoom: float) -> int | None:
    """The stored zoom whose shapes a map at `zoom` draws: the next whole one (never coarser than a pixel at
    `zoom`); None closer in than the finest stored, where a boundary is simplified on the fly."""
    whole = max(math.ceil(zoom), SHAPE_ZOOMS.start)
    return whole if whole in SHAPE_ZOOMS else None


def shared_recorders(moment: datetime) -> Subquery:
    """The ids of the recorders an active commitment covers at `moment`, as a table to join.

    Joined to lenses counted per recorder rather than tested per lens: the
    test then runs once per recorder, and PostgreSQL as one semi-join instead
    of a sub-plan per row (measured on 55,000 lenses: 22-30 ms on either
    backend, against 60 ms on SpatiaLite and 240 ms on PostGIS per lens).
    """
    return select(Recorder.id).where(recorder_is_shared(moment)).subquery("shared_recorders")


def count_registry(session: Session, commune_ids: Collection[int], now: datetime) -> dict[int, dict[str, int]]:
    """Each commune's registry counts recounted from the raw rows, as they stand at `now`."""
    counts = {commune_id: dict.fromkeys(REGISTRY_FIELDS, 0) for commune_id in commune_ids}
    if not counts:
        return counts
    ids = sorted(counts)
    active, offline = (case((Lens.status == status, 1), else_=0) for status in (LensStatus.ACTIVE, LensStatus.OFFLINE))
    per_recorder = (
        select(Lens.recorder_id, Lens.commune_id, func.sum(active).label("active"), func.sum(offline).label("offline"))
        .where(Lens.commune_id.in_(ids))
        .group_by(Lens.recorder_id, Lens.commune_id)
        .subquery()
    )
    shared = shared_recorders(now)
    for commune_id, lenses_active, lenses_offline, shared_active in session.execute(
        select(
            per_recorder.c.commune_id,
            func.sum(per_recorder.c.active),
            func.sum(per_recorder.c.offline),
            func.sum(case((shared.c.id.is_not(None), per_recorder.c.active), else_=0)),
        )
        .join(shared, shared.c.id == per_recorder.c.recorder_id, isouter=True)
        .group_by(per_recorder.c.commune_id)
    ):
        # PostgreSQL sums the per-recorder sums as numeric.
        counts[commune_id].update(
            lenses_active=int(lenses_active),
            lenses_offline=int(lenses_offline),
            shared_active_lenses=int(shared_active),
        )
    for commune_id, count in session.execute(
        select(Recorder.commune_id, func.count())
        .where(Recorder.commune_id.in_(ids), Recorder.status != RecorderStatus.REMOVED)
        .group_by(Recorder.commune_id)
    ):
        counts[commune_id]["recorders"] = count
    for commune_id, kind, count in session.execute(
        select(Owner.commune_id, Owner.kind, func.count())
        .where(Owner.commune_id.in_(ids))
        .group_by(Owner.commune_id, Owner.kind)
    ):
        counts[commune_id][f"owners_{kind.value}"] = count
    for commune_id, count in session.execute(
        select(Site.commune_id, func.count()).where(Site.commune_id.in_(ids)).group_by(Site.commune_id)
    ):
        counts[commune_id]["sites"] = count
    return counts


def registry_counts(session: Session, commune_ids: Collection[int], now: datetime) -> dict[int, dict[str, int]]:
    """Each commune's registry counts at `now`: its stored row where that is exact, else recounted here."""
    ids = sorted(set(commune_ids))
    if not ids:
        return {}
    pending = set(session.scalars(select(CommuneFigureMark.commune_id).where(CommuneFigureMark.commune_id.in_(ids))))
    stored = session.execute(
        select(CommuneFigures.commune_id, *(getattr(CommuneFigures, name) for name in REGISTRY_FIELDS)).where(
            CommuneFigures.commune_id.in_(ids),
            CommuneFigures.counted_at <= now,
            or_(CommuneFigures.exact_until.is_(None), CommuneFigures.exact_until > now),
        )
    )
    counts = {
        commune_id: dict(zip(REGISTRY_FIELDS, figures)) for commune_id, *figures in stored if commune_id not in pending
    }
    counts.update(count_registry(session, [commune_id for commune_id in ids if commune_id not in counts], now))
    return counts


def refresh(session: Session, now: datetime, *, draw: bool = True) -> Counter:
    """Recount the communes marked, overtaken by a commitment's start or end, or never counted; draw the
    boundaries not yet stored. The marks are taken by one DELETE, so a mark a writer commits meanwhile stays for
    the next run."""
    marked = set(session.scalars(delete(CommuneFigureMark).returning(CommuneFigureMark.commune_id)))
    if marked:
        # The same writes change what the lenses see: the coverage refresh takes these on (and their neighbours).
        session.execute(insert(CoverageMark), [{"commune_id": commune_id} for commune_id in sorted(marked)])
    overtaken = set(session.scalars(select(CommuneFigures.commune_id).where(CommuneFigures.exact_until <= now)))
    uncounted = set(
        session.scalars(
            select(AdminUnit.id).where(
                AdminUnit.level == AdminLevel.COMMUNE, AdminUnit.id.not_in(select(CommuneFigures.commune_id))
            )
        )
    )
    ids = marked | overtaken | uncounted
    counts = count_registry(session, ids, now)
    changes = _next_commitment_changes(session, ids, now)
    if ids:
        session.execute(delete(CommuneFigures).where(CommuneFigures.commune_id.in_(sorted(ids))))
        session.execute(
            insert(CommuneFigures),
            [
                {"commune_id": commune_id, **figures, "counted_at": now, "exact_until": changes.get(commune_id)}
                for commune_id, figures in counts.items()
            ],
        )
    return Counter(communes_recounted=len(ids), boundaries_drawn=_draw_missing_shapes(session) if draw else 0)


def _next_commitment_changes(session: Session, commune_ids: Iterable[int], now: datetime) -> dict[int, datetime]:
    """Per commune, the first moment after `now` a commitment covering a recorder of its lenses starts, ends or
    is revoked: when its shared lenses may change with no write."""
    ids = sorted(commune_ids)
    if not ids:
        return {}
    edges = commitment_edges(now)
    per_owner = select(Lens.commune_id, Recorder.owner_id).join(Recorder, Lens.recorder_id == Recorder.id)
    per_owner = per_owner.where(Lens.commune_id.in_(ids)).distinct().subquery()
    changes = {}
    for commune_id, *moments in session.execute(
        select(per_owner.c.commune_id, *edges)
        .join(SharingCommitment, SharingCommitment.owner_id == per_owner.c.owner_id)
        .group_by(per_owner.c.commune_id)
    ):
        future = [moment for moment in moments if moment is not None]
        if future:
            changes[commune_id] = min(future)
    return changes


def commitment_edges(now: datetime) -> list:
    """Aggregates over grouped commitments: the first start, end and revocation after `now` of each group (None
    where there is none), the moments its recorders' sharing may change with no write."""
    signed, ends, revoked = SharingCommitment.signed_at, SharingCommitment.valid_until, SharingCommitment.revoked_at
    # An end after the revocation, or a revocation after the end, changes nothing.
    return [
        func.min(case((and_(moment > now, *unless), moment), else_=None))
        for moment, unless in (
            (signed, ()),
            (ends, (or_(revoked.is_(None), revoked > ends),)),
            (revoked, (or_(ends.is_(None), ends > revoked),)),
        )
    ]


def _missing_boundaries(session: Session, limit: int | None = None) -> list[tuple[int, BaseGeometry]]:
    """Commune boundaries without their shapes yet (the first `limit` by id)."""
    drawn = select(CommuneShape.commune_id)
    query = (
        select(AdminUnit.id, AdminUnit.boundary)
        .where(AdminUnit.level == AdminLevel.COMMUNE, AdminUnit.boundary.is_not(None), AdminUnit.id.not_in(drawn))
        .order_by(AdminUnit.id)
        .limit(limit)
    )
    return [(unit_id, to_shape(boundary)) for unit_id, boundary in session.execute(query)]


def _store_shapes(session: Session, rows: list[dict]) -> None:
    """Store drawn shapes in place of any drawn meanwhile for the same communes."""
    ids = sorted({row["commune_id"] for row in rows})
    session.execute(delete(CommuneShape).where(CommuneShape.commune_id.in_(ids)))
    session.execute(insert(CommuneShape), rows)


def _draw_missing_shapes(session: Session) -> int:
    """Store every commune boundary without its shapes yet, simplified for each of SHAPE_ZOOMS."""
    missing = _missing_boundaries(session)
    if missing:
        _store_shapes(session, [row for unit_id, shape in missing for row in _shapes_of(unit_id, shape)])
    return len(missing)


def _shapes_of(unit_id: int, shape: BaseGeometry) -> list[dict]:
    """A boundary's rows of commune_shapes: simplified for each of SHAPE_ZOOMS, serialised once."""
    area = area_km2(shape)
    return [
        {
            "commune_id": unit_id,
            "zoom": zoom,
            "geojson": json.dumps(mapping(simplified_for_zoom(shape, zoom))),
            "area_km2": area,
        }
        for zoom in SHAPE_ZOOMS
    ]


def refresh_commune_figures(sessions: sessionmaker, settings, now: datetime) -> Counter:
    """The scheduler's job: the recount in a write unit of its own, then up to SHAPES_PER_RUN boundaries not yet
    stored, simplified outside any transaction and stored SHAPES_PER_UNIT at a time, so no write holds SQLite's
    lock for long (simplifying a ward's boundary for every zoom takes tens of milliseconds)."""
    counts = write_unit(sessions, lambda session: refresh(session, now, draw=False))
    counts["boundaries_drawn"] = 0
    while counts["boundaries_drawn"] < SHAPES_PER_RUN:
        with open_session(sessions, READ) as session:
            missing = _missing_boundaries(session, SHAPES_PER_UNIT)
        if not missing:
            break
        rows = [row for unit_id, shape in missing for row in _shapes_of(unit_id, shape)]
        write_unit(sessions, lambda session, rows=rows: _store_shapes(session, rows))
        counts["boundaries_drawn"] += len(missing)
    return +counts  # nothing done is an empty count, as the other jobs report it
