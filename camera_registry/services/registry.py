"""Registry rules that hold however a recorder or lens is written.

Every recorder and lens carries the commune containing its point. The
derivation runs in `before_flush`, so a service, an import or the sample
loader all get it without remembering to ask.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from geoalchemy2.shape import to_shape
from sqlalchemy import bindparam, event, inspect, select, update
from sqlalchemy.orm import Session

from ..geo.communes import CommuneLocator
from ..models import AdminLevel, AdminUnit, Lens, Recorder
from ..timezones import local_today

_LOCATOR_KEY = "commune_locator"
REASSIGN_BATCH = 5_000


def _is_current_commune(on: date):
    return (AdminUnit.level == AdminLevel.COMMUNE) & AdminUnit.boundary.is_not(None) & AdminUnit.valid_on(on)


def commune_locator(session: Session, on: date | None = None) -> CommuneLocator:
    """A locator over the stored communes valid on `on` (today by default), cached per session."""
    on = on or local_today()
    cached = session.info.get(_LOCATOR_KEY)
    if cached is not None and cached[0] == on:
        return cached[1]
    rows = session.execute(
        select(AdminUnit.id, AdminUnit.boundary).where(_is_current_commune(on)).order_by(AdminUnit.id)
    )
    locator = CommuneLocator((unit_id, to_shape(boundary)) for unit_id, boundary in rows)
    session.info[_LOCATOR_KEY] = (on, locator)
    return locator


def forget_commune_locator(session: Session) -> None:
    session.info.pop(_LOCATOR_KEY, None)


def _locator_for_flush(session: Session) -> CommuneLocator:
    """The stored communes, with any added, redrawn or deleted in this flush taken as they will be."""
    changed = [unit for unit in (*session.new, *session.dirty, *session.deleted) if isinstance(unit, AdminUnit)]
    if not changed:
        return commune_locator(session)
    forget_commune_locator(session)
    today = local_today()
    changed_ids = [unit.id for unit in changed if unit.id is not None]
    stored = session.execute(
        select(AdminUnit.id, AdminUnit.boundary)
        .where(_is_current_commune(today), AdminUnit.id.not_in(changed_ids))
        .order_by(AdminUnit.id)
    )
    pending = [
        unit
        for unit in changed
        if unit not in session.deleted
        and unit.level == AdminLevel.COMMUNE
        and unit.boundary is not None
        and unit.valid_on(today)
    ]
    pending.sort(key=lambda unit: (unit.id is None, unit.id or 0))
    return CommuneLocator(
        [
            *((unit_id, to_shape(boundary)) for unit_id, boundary in stored),
            *((unit, to_shape(unit.boundary)) for unit in pending),
        ]
    )


@event.listens_for(Session, "before_flush")
def _derive_communes(session: Session, flush_context, instances) -> None:
    placed = [
        obj
        for obj in (*session.new, *session.dirty)
        if isinstance(obj, (Recorder, Lens)) and (obj in session.new or inspect(obj).attrs.point.history.has_changes())
    ]
    if not placed:
        if any(isinstance(obj, AdminUnit) for obj in (*session.new, *session.dirty, *session.deleted)):
            forget_commune_locator(session)
        return
    points = [to_shape(obj.point) for obj in placed]
    communes = _locator_for_flush(session).locate_many([p.x for p in points], [p.y for p in points])
    for obj, commune in zip(placed, communes):
        # Set through the relationship: a commune added in this flush has no id yet.
        obj.commune = commune if commune is None or isinstance(commune, AdminUnit) else session.get(AdminUnit, commune)


@dataclass
class ReassignReport:
    recorders_changed: int = 0
    lenses_changed: int = 0
    outside_any_commune: int = 0
    #: How many records moved, by (kind: "recorders" or "lenses", commune id before, commune id after).
    moves: Counter[tuple[str, int | None, int | None]] = field(default_factory=Counter)


def reassign_communes(session: Session) -> ReassignReport:
    """Re-derive the commune of every recorder and lens, after boundaries change, counting who moved where."""
    forget_commune_locator(session)
    locator = None  # read the boundaries only when there is a camera to place: a first edition has none
    report = ReassignReport()
    for model, counter, kind in ((Recorder, "recorders_changed", "recorders"), (Lens, "lenses_changed", "lenses")):
        last_id = 0
        while True:
            rows = session.execute(
                select(model.id, model.commune_id, model.point)
                .where(model.id > last_id)
                .order_by(model.id)
                .limit(REASSIGN_BATCH)
            ).all()
            if not rows:
                break
            last_id = rows[-1].id
            if locator is None:
                locator = commune_locator(session)
            points = [to_shape(row.point) for row in rows]
            derived = locator.locate_many([p.x for p in points], [p.y for p in points])
            changes = []
            for row, commune_id in zip(rows, derived):
                if commune_id != row.commune_id:
                    changes.append({"row_id": row.id, "new_commune": commune_id})
                    report.moves[(kind, row.commune_id, commune_id)] += 1
            report.outside_any_commune += sum(1 for commune_id in derived if commune_id is None)
            if changes:
                session.connection().execute(
                    update(model.__table__)
                    .where(model.__table__.c.id == bindparam("row_id"))
                    .values(commune_id=bindparam("new_commune")),
                    changes,
                )
                setattr(report, counter, getattr(report, counter) + len(changes))
    session.expire_all()
    return report
