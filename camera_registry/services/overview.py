"""The front page's summary of the registry: per commune in the reader's reach, or programme-wide totals.

Registry figures are not public: a signed-in reader sees the communes in their
reach; anonymous visitors see at most the totals over the whole programme,
when the installation chooses to show them (PUBLIC_PROGRAMME_TOTALS).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session, aliased

from ..models import AdminLevel, AdminUnit, Lens, LensStatus, Recorder
from .access import SYSTEM, Actor
from .commitments import recorder_is_shared


class _SharingRate:
    active_lenses: int
    shared_active_lenses: int

    @property
    def sharing_rate(self) -> float | None:
        return self.shared_active_lenses / self.active_lenses if self.active_lenses else None


@dataclass(frozen=True)
class CommuneLine(_SharingRate):
    code: str
    name: str
    parent_name: str | None
    recorders: int
    lenses: int
    active_lenses: int
    shared_active_lenses: int


@dataclass(frozen=True)
class ProgrammeTotals(_SharingRate):
    """The whole programme's counts, with nothing that names or locates a commune."""

    communes: int
    recorders: int
    lenses: int
    active_lenses: int
    shared_active_lenses: int


def check_database(session: Session) -> None:
    session.execute(text("SELECT 1"))


def commune_overview(session: Session, actor: Actor = SYSTEM, now: datetime | None = None) -> list[CommuneLine]:
    """Lens, recorder and sharing counts for every commune in the actor's reach with any registered camera."""
    now = now or datetime.now(UTC)
    parent = aliased(AdminUnit)
    per_recorder = (
        select(
            Lens.recorder_id.label("recorder_id"),
            func.count(Lens.id).label("lenses"),
            func.sum(case((Lens.status == LensStatus.ACTIVE, 1), else_=0)).label("active_lenses"),
        )
        .group_by(Lens.recorder_id)
        .subquery()
    )
    lens_counts = (
        select(
            Recorder.commune_id.label("commune_id"),
            func.count(Recorder.id).label("recorders"),
            func.coalesce(func.sum(per_recorder.c.lenses), 0).label("lenses"),
            func.sum(per_recorder.c.active_lenses).label("active_lenses"),
            func.sum(case((recorder_is_shared(now), per_recorder.c.active_lenses), else_=0)).label(
                "shared_active_lenses"
            ),
        )
        .join(per_recorder, per_recorder.c.recorder_id == Recorder.id, isouter=True)
        .group_by(Recorder.commune_id)
        .subquery()
    )
    statement = (
        select(AdminUnit.code, AdminUnit.name, parent.name, lens_counts)
        .join(lens_counts, lens_counts.c.commune_id == AdminUnit.id)
        .join(parent, AdminUnit.parent_id == parent.id, isouter=True)
        .where(AdminUnit.level == AdminLevel.COMMUNE)
        .order_by(parent.name, AdminUnit.name)
    )
    if actor.readable_communes is not None:
        statement = statement.where(AdminUnit.id.in_(actor.readable_communes))
    rows = session.execute(statement)
    return [
        CommuneLine(
            row[0],
            row[1],
            row[2],
            row.recorders,
            row.lenses,
            int(row.active_lenses or 0),
            int(row.shared_active_lenses or 0),
        )
        for row in rows
    ]


def programme_totals(session: Session, now: datetime | None = None) -> ProgrammeTotals:
    """The counts of the front page summed over every commune: what anonymous visitors may be shown."""
    lines = commune_overview(session, SYSTEM, now)
    return ProgrammeTotals(
        len(lines),
        *(
            sum(getattr(line, name) for line in lines)
            for name in ("recorders", "lenses", "active_lenses", "shared_active_lenses")
        ),
    )
