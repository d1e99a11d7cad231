"""Loading an edition of the administrative units over the registry, on the day it takes effect.

Units are never rewritten: a unit whose code, name, level, parent or boundary differs in the edition is closed
(valid_to = the effective day) and a new version of it opened (valid_from = that day); a unit the edition no
longer lists is closed; a new code is opened; the rest is left as it is.

Each closed unit's successors are the open units of its level that take over its territory, largest overlap of
the real boundaries first (the open version of the same code when it has no boundary). Then what the change
touches follows: recorders and lenses by their points, sites by their point (or their commune's first successor
when they have none), owners by the importer's rule (the commune of their first recorder's site), staff bound to
a closed unit to its successor when there is exactly one (with several, an administrator chooses: they stay on
the closed unit, with its past reach read-only, and the report lists them), and supervision groups to the
successors of their communes. Footage requests and the audit history keep the commune they were made in.

Boundaries are compared after normalising (ring start and orientation) with a tolerance of 1e-7 degrees, about a
centimetre: a republished file may round coordinates or start a ring elsewhere, and no change that small moves a
camera from one commune to another, while exact WKB equality would close every unit of such a file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ...models import WGS84, AdminUnit, Owner, Recorder, Site, User
from ...timezones import local_today
from ..access import SYSTEM, Actor
from ..accounts.remembered import forget_credentials
from ..audit import record
from ..channels.phones import entered_phone
from ..errors import ValidationFailed
from ..imports.writer import owner_commune
from ..registry import commune_locator, forget_commune_locator, reassign_communes
from ..supervision import CarriedGroup, carry_groups_over
from .reader import Edition, EditionError, UnitRecord

#: Degrees within which two boundaries count as the same (about a centimetre).
BOUNDARY_TOLERANCE = 1e-7
#: An overlap below this share of a closed unit's area is two drawings of a shared border, not territory taken.
SLIVER_SHARE = 0.01


@dataclass(frozen=True)
class Move:
    """`count` records of `kind` moved from one unit to another (labels: code, name, and end date if closed)."""

    kind: str
    source: str | None
    target: str | None
    count: int


@dataclass(frozen=True)
class Rebinding:
    """A staff account bound to a closed unit: rebound to its one successor, or waiting for an administrator."""

    username: str
    closed: str
    successors: tuple[str, ...]


@dataclass
class EditionReport:
    """What a load changed (or, on a dry run, would change): plain values, readable after a rollback."""

    effective: date
    dry_run: bool = False
    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    unchanged: int = 0
    #: (code, name before, name after) of the units that kept their code under a new name.
    renamed: list[tuple[str, str, str]] = field(default_factory=list)
    #: Each open unit that took over two or more closed ones: its code -> their codes.
    merged: dict[str, list[str]] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)
    users_rebound: list[Rebinding] = field(default_factory=list)
    users_needing_admin: list[Rebinding] = field(default_factory=list)
    groups: list[CarriedGroup] = field(default_factory=list)


def load_edition(
    session: Session,
    edition: Edition,
    effective: date,
    actor: Actor = SYSTEM,
    dry_run: bool = False,
    *,
    provinces: Iterable[str] | None = None,
) -> EditionReport:
    """Load `edition` as in force from `effective` and say what changed; only an administrator (or the system)
    loads editions.

    Guarantees: the load runs in one savepoint of the caller's transaction, so an error (EditionError for a bad
    edition or date) leaves nothing of it behind, and a dry run computes the whole report and then rolls it back;
    the caller commits. Into a registry with no units it inserts every unit with valid_from = `effective`, parents
    linked, boundaries as MultiPolygons and police phones normalised as entered phones are. Loading the same
    edition again changes nothing. `provinces` names the provinces the edition was read for: the open units of
    other provinces are then left alone instead of being closed as absent.
    """
    actor.require_admin()
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
        forget_credentials(session)  # remembered reaches name the communes and bindings this load changed
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
    for code, stored in sorted(current.items()):
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
    closed = [current[code] for code in report.closed]
    if closed or report.opened:  # a new commune may also take in cameras that lay outside every commune
        _follow(session, report, closed, effective, actor)
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
    """Refuse a day not yet come (records carry today's commune), one before the edition in force, or one that
    would reopen a closed period."""
    if effective > local_today():
        raise EditionError(f"an edition in force from {effective} is loaded on or after that day, not before")
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


def _follow(session: Session, report: EditionReport, closed: list[AdminUnit], effective: date, actor: Actor) -> None:
    """Find the closed units' successors and move onto them what the change touches."""
    successors = _successors(session, closed, effective)
    units = {unit.id: unit for unit in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(_ids(successors))))}
    labels = {unit_id: _label(unit) for unit_id, unit in units.items()}
    taken: dict[int, list[str]] = defaultdict(list)
    for unit in closed:
        labels[unit.id] = _label(unit)
        heirs = successors[unit.id]
        if heirs:
            taken[heirs[0]].append(unit.code)
            heir = units[heirs[0]]
            if heir.code == unit.code and heir.name != unit.name:
                report.renamed.append((unit.code, unit.name, heir.name))
    report.merged = {units[heir].code: sorted(codes) for heir, codes in taken.items() if len(codes) > 1}
    moved = reassign_communes(session)
    counts: Counter[tuple[str, int | None, int | None]] = Counter(moved.moves)
    counts.update(_move_sites(session, successors))
    counts.update(_move_owners(session, successors))
    counts.update(_rebind_users(session, report, successors, labels))
    report.groups = carry_groups_over(session, successors, effective, actor=actor)
    missing = {unit_id for _, *ends in counts for unit_id in ends if unit_id is not None and unit_id not in labels}
    for unit in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(missing))):
        labels[unit.id] = _label(unit)
    report.moves = [
        Move(kind, labels.get(source), labels.get(target), count)
        for (kind, source, target), count in sorted(counts.items(), key=lambda item: (item[0][0], -item[1]))
    ]


def _ids(successors: dict[int, list[int]]) -> set[int]:
    return {unit_id for heirs in successors.values() for unit_id in heirs}


def _label(unit: AdminUnit) -> str:
    closed = f" (to {unit.valid_to.isoformat()})" if unit.valid_to is not None else ""
    return f"{unit.code} {unit.name}{closed}"


def _successors(session: Session, closed: list[AdminUnit], effective: date) -> dict[int, list[int]]:
    """Each closed unit's id -> the open units of its level over its territory, largest overlap first."""
    if not closed:
        return {}  # a first edition closes nothing: no need to read every boundary back
    in_force = session.execute(
        select(AdminUnit.id, AdminUnit.code, AdminUnit.level, AdminUnit.boundary).where(AdminUnit.valid_on(effective))
    ).all()
    same_code = {row.code: row.id for row in in_force}
    drawn: dict = defaultdict(list)
    for row in in_force:
        if row.boundary is not None:
            drawn[row.level].append((row.id, to_shape(row.boundary)))
    trees = {level: shapely.STRtree([shape for _, shape in pairs]) for level, pairs in drawn.items()}
    successors: dict[int, list[int]] = {}
    for unit in closed:
        found: list[int] = []
        if unit.boundary is not None and unit.level in trees:
            territory = to_shape(unit.boundary)
            pairs = drawn[unit.level]
            overlaps = [
                (shapely.area(shapely.intersection(territory, pairs[index][1])), pairs[index][0])
                for index in trees[unit.level].query(territory, predicate="intersects").tolist()
            ]
            found = [
                unit_id
                for area, unit_id in sorted(overlaps, key=lambda pair: (-pair[0], pair[1]))
                if area >= SLIVER_SHARE * territory.area
            ]
        if not found and unit.code in same_code:
            found = [same_code[unit.code]]
        successors[unit.id] = found
    return successors


def _move_to(session: Session, model, kind: str, rows, found: dict, successors: dict[int, list[int]]) -> Counter:
    """Move each row (id, commune_id) to the commune `found` for it, else to its closed commune's first successor,
    in one statement that bumps each row's version as any write does; count the moves."""
    moves: Counter = Counter()
    changes = []
    for row in rows:
        heirs = successors[row.commune_id]
        target = found.get(row.id) or (heirs[0] if heirs else None)
        if target is not None and target != row.commune_id:
            changes.append({"row_id": row.id, "new_commune": target})
            moves[(kind, row.commune_id, target)] += 1
    if changes:
        table = model.__table__
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(commune_id=bindparam("new_commune"), version=table.c.version + 1),
            changes,
        )
    return moves


def _move_sites(session: Session, successors: dict[int, list[int]]) -> Counter:
    """Sites of a closed commune: to the commune holding their point, else to its first successor."""
    rows = session.execute(select(Site.id, Site.commune_id, Site.point).where(Site.commune_id.in_(successors))).all()
    pointed = [row for row in rows if row.point is not None]
    if not pointed:  # no site to place: spare reading every boundary back
        return _move_to(session, Site, "sites", rows, {}, successors)
    points = [to_shape(row.point) for row in pointed]
    located = dict(
        zip(
            (row.id for row in pointed),
            commune_locator(session).locate_many([p.x for p in points], [p.y for p in points]),
        )
    )
    return _move_to(session, Site, "sites", rows, located, successors)


def _move_owners(session: Session, successors: dict[int, list[int]]) -> Counter:
    """Owners of a closed commune: to the commune of their first recorder's site, else its first successor."""
    rows = session.execute(select(Owner.id, Owner.commune_id).where(Owner.commune_id.in_(successors))).all()
    first_sites: dict[int, int | None] = {}
    for site in session.execute(
        select(Recorder.owner_id, Site.commune_id)
        .join(Site, Recorder.site_id == Site.id)
        .where(Recorder.owner_id.in_([row.id for row in rows]))
        .order_by(Recorder.id)
    ):
        first_sites.setdefault(site.owner_id, owner_commune(site._mapping))
    return _move_to(session, Owner, "owners", rows, first_sites, successors)


def _rebind_users(
    session: Session, report: EditionReport, successors: dict[int, list[int]], labels: dict[int, str]
) -> Counter:
    """Staff on a closed unit follow its one successor; with several, or none, an administrator decides."""
    moves: Counter = Counter()
    for user in session.scalars(select(User).where(User.admin_unit_id.in_(successors)).order_by(User.username)):
        closed_id = user.admin_unit_id
        heirs = successors[closed_id]
        binding = Rebinding(user.username, labels[closed_id], tuple(labels[heir] for heir in heirs))
        if len(heirs) == 1:
            user.admin_unit_id = heirs[0]
            report.users_rebound.append(binding)
            moves[("users", closed_id, heirs[0])] += 1
        else:
            report.users_needing_admin.append(binding)
    session.flush()
    return moves
