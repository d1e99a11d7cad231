"""Loading an edition of the administrative units over the registry, on the day it takes effect.

Units are never rewritten: a unit whose code, name, level, parent or boundary differs in the edition is closed
(valid_to = the effective day) and a new version of it opened (valid_from = that day); a unit the edition no
longer lists is closed; a new code is opened; the rest is left as it is.

Boundaries are compared after normalising (ring start and orientation) with a tolerance of 1e-7 degrees, about a
centimetre: a republished file may round coordinates or start a ring elsewhere, and no change that small moves a
camera from one commune to another, while exact WKB equality would close every unit of such a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import WGS84, AdminUnit
from ..access import SYSTEM, Actor
from ..audit import record
from ..channels.phones import entered_phone
from ..errors import ValidationFailed
from ..registry import forget_commune_locator
from .reader import Edition, EditionError, UnitRecord

#: Degrees within which two boundaries count as the same (about a centimetre).
BOUNDARY_TOLERANCE = 1e-7


@dataclass
class EditionReport:
    """What a load changed (or, on a dry run, would change): plain values, readable after a rollback."""

    effective: date
    dry_run: bool = False
    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    unchanged: int = 0


def load_edition(
    session: Session,
    edition: Edition,
    effective: date,
    actor: Actor = SYSTEM,
    dry_run: bool = False,
    *,
    provinces: Iterable[str] | None = None,
) -> EditionReport:
    """Load `edition` as in force from `effective` and say what changed.

    Guarantees: the load runs in one savepoint of the caller's transaction, so an error (EditionError for a bad
    edition or date) leaves nothing of it behind, and a dry run computes the whole report and then rolls it back;
    the caller commits. Into a registry with no units it inserts every unit with valid_from = `effective`, parents
    linked, boundaries as MultiPolygons and police phones normalised as entered phones are. Loading the same
    edition again changes nothing. `provinces` names the provinces the edition was read for: the open units of
    other provinces are then left alone instead of being closed as absent.
    """
    savepoint = session.begin_nested()
    try:
        report = _load(session, edition, effective, actor, set(provinces) if provinces is not None else None)
        report.dry_run = dry_run
    except BaseException:
        savepoint.rollback()
        raise
    finally:
        forget_commune_locator(session)
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return report


def _load(session: Session, edition: Edition, effective: date, actor: Actor, provinces: set[str] | None):
    _check_effective(session, effective)
    report = EditionReport(effective=effective)
    current = _open_units(session, provinces)
    codes = dict(session.execute(select(AdminUnit.id, AdminUnit.code)).all())
    wanted = {unit.code: unit for unit in edition.units}
    changed: set[str] = set()
    for unit in edition.units:
        stored = current.get(unit.code)
        if stored is None or _differs(stored, unit, codes):
            changed.add(unit.code)
        else:
            report.unchanged += 1
    for code, stored in current.items():
        if code in changed or code not in wanted:
            if stored.valid_from is not None and stored.valid_from >= effective:
                raise EditionError(
                    f"{stored.name} ({code}) came into force on {stored.valid_from}: an edition in force from "
                    f"{effective} cannot change it; load it with a later effective date"
                )
            stored.valid_to = effective
            report.closed.append(code)
    session.flush()  # the closed versions make room for the open ones (one open version per code)
    opened = _open_versions(session, [unit for unit in edition.units if unit.code in changed], current, effective)
    report.opened = [unit.code for unit in edition.units if unit.code in changed]
    _repoint_children(session, current, opened, codes)
    record(
        session,
        actor,
        "admin_units.load_edition",
        "admin_unit",
        note=f"{edition.source.name} in force from {effective}",
        details={"opened": len(report.opened), "closed": len(report.closed), "unchanged": report.unchanged},
    )
    return report


def _check_effective(session: Session, effective: date) -> None:
    """Refuse a day before the edition in force, or one that would reopen a closed period."""
    latest_start = session.scalar(select(func.max(AdminUnit.valid_from)).where(AdminUnit.valid_to.is_(None)))
    if latest_start is not None and effective < latest_start:
        raise EditionError(
            f"the edition in force dates from {latest_start}: a later edition cannot take effect on {effective}"
        )
    latest_end = session.scalar(select(func.max(AdminUnit.valid_to)))
    if latest_end is not None and effective < latest_end:
        raise EditionError(f"units were closed on {latest_end}: an edition from {effective} would reopen that history")


def _open_units(session: Session, provinces: set[str] | None) -> dict[str, AdminUnit]:
    """The open-ended version of each code, limited to the named provinces and their units when given."""
    units = session.scalars(select(AdminUnit).where(AdminUnit.valid_to.is_(None))).all()
    by_id = {unit.id: unit for unit in units}
    if provinces is None:
        return {unit.code: unit for unit in units}

    def province_code(unit: AdminUnit) -> str:
        while unit.parent_id is not None and unit.parent_id in by_id:
            unit = by_id[unit.parent_id]
        return unit.code

    return {unit.code: unit for unit in units if province_code(unit) in provinces}


def _differs(stored: AdminUnit, unit: UnitRecord, codes: dict[int, str]) -> bool:
    parent_code = codes.get(stored.parent_id) if stored.parent_id is not None else None
    if (stored.name, stored.level, parent_code) != (unit.name, unit.level, unit.parent_code):
        return True
    return not _same_boundary(stored, unit)


def _same_boundary(stored: AdminUnit, unit: UnitRecord) -> bool:
    if stored.boundary is None or unit.boundary is None:
        return stored.boundary is None and unit.boundary is None
    return shapely.equals_exact(
        shapely.normalize(to_shape(stored.boundary)), shapely.normalize(unit.boundary), tolerance=BOUNDARY_TOLERANCE
    )


def _open_versions(
    session: Session, units: list[UnitRecord], current: dict[str, AdminUnit], effective: date
) -> dict[str, AdminUnit]:
    """Insert the new versions depth by depth (parents first), each depth in one flush."""
    opened: dict[str, AdminUnit] = {}
    depth: dict[str, int] = {}
    for unit in units:
        depth[unit.code] = depth.get(unit.parent_code, 0) + 1 if unit.parent_code in depth else 0
    for level in sorted(set(depth.values())):
        batch = []
        for unit in units:
            if depth[unit.code] != level:
                continue
            # The reader checked every parent is in the edition: a changed one was opened at a lower depth.
            parent = opened.get(unit.parent_code) or current.get(unit.parent_code)
            previous = current.get(unit.code)
            batch.append(
                AdminUnit(
                    code=unit.code,
                    name=unit.name,
                    level=unit.level,
                    parent_id=parent.id if parent is not None else None,
                    boundary=from_shape(unit.boundary, srid=WGS84) if unit.boundary is not None else None,
                    valid_from=effective,
                    police_phone=_police_phone(unit, previous),
                )
            )
        session.add_all(batch)
        session.flush()
        opened.update((new.code, new) for new in batch)
    return opened


def _police_phone(unit: UnitRecord, previous: AdminUnit | None) -> str | None:
    """The edition's phone, normalised; a new version keeps its predecessor's when the edition names none."""
    if unit.police_phone is None:
        return previous.police_phone if previous is not None else None
    try:
        return entered_phone(unit.police_phone, "police_phone")
    except ValidationFailed as error:
        raise EditionError(f"unit {unit.code}: police_phone {unit.police_phone!r}: {error.message}") from None


def _repoint_children(session: Session, current: dict[str, AdminUnit], opened: dict[str, AdminUnit], codes) -> None:
    """An unchanged unit whose parent got a new version hangs under that version: its code named the parent."""
    for unit in current.values():
        if unit.valid_to is None and codes.get(unit.parent_id) in opened:
            unit.parent_id = opened[codes[unit.parent_id]].id
    session.flush()
