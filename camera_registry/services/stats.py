"""Figures per commune, rolled up to district and province.

For staff bound to a supervision group, the district level rolls up to their
group instead: one row, coded and named by the group, where district staff
see their district's row (the reform left no district to sum into).

A handful of grouped queries count every commune in reach at once. A parent's
counts are the sums of its communes'; its rates are recomputed from those sums
and its median from the pooled durations, never averaged from the children's,
so every lens and every request weighs the same wherever it sits. Coverage is
summed the same way: km² seen over km² of area, road km seen over road km.
"""

from __future__ import annotations

import operator
import statistics
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, defer

from ..models import (
    AdminLevel,
    AdminUnit,
    Assignment,
    AssignmentStatus,
    FootageRequest,
    RequestOutcome,
    RequestStatus,
    SupervisionGroup,
    request_outcome,
)
from ..models.base import utcnow
from ..timezones import local_midnight, local_today
from .access import Actor
from .commune_coverage import CoverageFigures, CoverageShares, coverage_figures
from .commune_figures import registry_counts
from .errors import NotFound, ValidationFailed
from .messages import domain_term, refusal

DEFAULT_PERIOD_DAYS = 30
#: The answers that give nothing; every other answer was a consent (maybe followed by footage and closing).
REFUSALS = (AssignmentStatus.DECLINED, AssignmentStatus.NO_FOOTAGE)


#: The Tally field each request outcome is counted in.
OUTCOME_FIELDS = {
    RequestOutcome.RESOLVED_WITH_FOOTAGE: "requests_with_footage",
    RequestOutcome.RESOLVED_WITHOUT_FOOTAGE: "requests_without_footage",
    RequestOutcome.EXPIRED_UNANSWERED: "requests_expired_unanswered",
    RequestOutcome.CANCELLED: "requests_cancelled",
    RequestOutcome.OPEN: "requests_open",
}


@dataclass(frozen=True)
class Period:
    """[start, end): request figures are about the requests opened in it."""

    start: datetime
    end: datetime


def period_of_days(first: date | None = None, end: date | None = None, today: date | None = None) -> Period:
    """Vietnamese calendar days [first, end), from midnight in Asia/Ho_Chi_Minh.

    Without `end` the period runs through today; without `first` it spans
    the DEFAULT_PERIOD_DAYS days before `end`.
    """
    end = end or (today or local_today()) + timedelta(days=1)
    first = first or end - timedelta(days=DEFAULT_PERIOD_DAYS)
    if first >= end:
        raise ValidationFailed(
            refusal("the period must end after it starts"),
            {"to": [refusal("must be after %(other)s", other=domain_term("from"))]},
        )
    return Period(local_midnight(first), local_midnight(end))


def _sum_known(mine: float | None, theirs: float | None) -> float | None:
    """The sum of what is known: a unit without roads adds nothing, and none with roads leaves it unknown."""
    return theirs if mine is None else mine if theirs is None else mine + theirs


def _oldest(mine: datetime | None, theirs: datetime | None) -> datetime | None:
    return min((moment for moment in (mine, theirs) if moment is not None), default=None)


@dataclass
class Tally(CoverageShares):
    """One unit's counts; `add` sums another unit's in, and the rates and coverage shares derive from the sums."""

    communes: int = 0
    lenses_active: int = 0
    lenses_offline: int = 0
    shared_active_lenses: int = 0
    recorders: int = 0
    owners_household: int = 0
    owners_agency: int = 0
    owners_business: int = 0
    sites: int = 0
    requests_opened: int = 0
    requests_resolved: int = 0
    # How the requests opened ended (models.request_outcome); with the open ones they add up to requests_opened.
    requests_with_footage: int = 0
    requests_without_footage: int = 0
    requests_expired_unanswered: int = 0
    requests_cancelled: int = 0
    requests_open: int = 0
    hours_to_resolution: list[float] = field(default_factory=list)
    assignments_answered: int = 0
    assignments_consented: int = 0
    assignments_expired: int = 0
    # Coverage (services/commune_coverage.py), summed so that a roll-up's shares weigh every km² alike.
    area_km2: float = 0.0
    seen_km2: float = 0.0
    shared_seen_km2: float = 0.0
    #: None where no loaded road crosses the unit: its road shares are then empty, not 0 %.
    road_km: float | None = field(default=None, metadata={"add": _sum_known})
    road_seen_km: float | None = field(default=None, metadata={"add": _sum_known})
    road_shared_seen_km: float | None = field(default=None, metadata={"add": _sum_known})
    #: A change waits for the coverage refresh in one of the unit's communes: its coverage is from before it.
    coverage_stale: bool = field(default=False, metadata={"add": operator.or_})
    #: When the unit's oldest coverage figures were computed (None: no commune with a boundary).
    coverage_computed_at: datetime | None = field(default=None, metadata={"add": _oldest})

    def add(self, other: Tally) -> Tally:
        for item in fields(self):
            combine = item.metadata.get("add", operator.add)
            setattr(self, item.name, combine(getattr(self, item.name), getattr(other, item.name)))
        return self

    @property
    def owners(self) -> int:
        return self.owners_household + self.owners_agency + self.owners_business

    @property
    def sharing_rate(self) -> float | None:
        return _ratio(self.shared_active_lenses, self.lenses_active)

    @property
    def median_hours_to_resolution(self) -> float | None:
        return statistics.median(self.hours_to_resolution) if self.hours_to_resolution else None

    @property
    def consent_rate(self) -> float | None:
        return _ratio(self.assignments_consented, self.assignments_answered)

    @property
    def expired_share(self) -> float | None:
        """Of the assignments settled one way or the other (answered, or expired unanswered), the expired ones."""
        return _ratio(self.assignments_expired, self.assignments_answered + self.assignments_expired)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class UnitFigures:
    code: str
    name: str
    level: AdminLevel
    parent_code: str | None
    figures: Tally


@dataclass(frozen=True)
class FiguresReport:
    level: AdminLevel
    parent_code: str | None
    period: Period
    as_of: datetime
    rows: list[UnitFigures]


def unit_figures(
    session: Session,
    actor: Actor,
    *,
    first: date | None = None,
    end: date | None = None,
    parent_code: str | None = None,
    level: AdminLevel = AdminLevel.COMMUNE,
    now: datetime | None = None,
) -> FiguresReport:
    """Figures for the communes valid today in the actor's reach (under `parent_code`), one row per unit of `level`;
    request figures over the days [first, end) (see `period_of_days`).

    A commune with no ancestor of `level` (one directly under a province, asked
    for districts) is in no row. Rows count only what the actor may read.
    """
    now = now or utcnow()
    period = period_of_days(first, end, local_today(now))
    units = {unit.id: unit for unit in session.scalars(select(AdminUnit).options(defer(AdminUnit.boundary)))}
    parent = None
    if parent_code is not None:
        versions = [unit for unit in units.values() if unit.code == parent_code]  # one code, several versions
        parent = max(versions, key=lambda unit: unit.valid_on(local_today(now)), default=None)
        if parent is None:
            raise NotFound.of("admin unit", parent_code)
    today = local_today(now)
    communes = [
        unit
        for unit in units.values()
        if unit.level == AdminLevel.COMMUNE
        and unit.valid_on(today)
        and actor.can_read(unit.id)
        and (parent is None or parent.id in _lineage(units, unit))
    ]
    tallies = commune_tallies(session, [unit.id for unit in communes], period, now)
    if actor.group_id is not None and level == AdminLevel.DISTRICT:
        rows = [_group_row(session.get(SupervisionGroup, actor.group_id), communes, tallies)] if communes else []
        return FiguresReport(level, parent_code, period, now, rows)
    grouped: dict[int, Tally] = {}
    for commune in communes:
        row_unit = next((units[i] for i in _lineage(units, commune) if units[i].level == level), None)
        if row_unit is not None:
            grouped.setdefault(row_unit.id, Tally()).add(tallies[commune.id])
    rows = [
        UnitFigures(
            units[unit_id].code,
            units[unit_id].name,
            level,
            units[units[unit_id].parent_id].code if units[unit_id].parent_id else None,
            tally,
        )
        for unit_id, tally in grouped.items()
    ]
    return FiguresReport(level, parent_code, period, now, sorted(rows, key=lambda row: row.code))


def _group_row(group: SupervisionGroup, communes: list[AdminUnit], tallies: dict[int, Tally]) -> UnitFigures:
    """The supervision group's roll-up of its communes in reach."""
    total = Tally()
    for commune in communes:
        total.add(tallies[commune.id])
    return UnitFigures(group.code, group.name, AdminLevel.DISTRICT, group.province.code, total)


def _lineage(units: dict[int, AdminUnit], unit: AdminUnit) -> list[int]:
    """The unit's id and its ancestors', nearest first."""
    chain = [unit.id]
    while units[chain[-1]].parent_id is not None:
        chain.append(units[chain[-1]].parent_id)
    return chain


def commune_tallies(
    session: Session,
    commune_ids: Collection[int],
    period: Period,
    now: datetime | None = None,
    *,
    coverage: bool = True,
) -> dict[int, Tally]:
    """Each commune's counts: the registry as it stands at `now` (kept per commune, services/commune_figures.py),
    requests opened in `period` (counted here: they grow with the requests filed, not with the registry), and
    unless `coverage` is false, how much of it the lenses see (kept per commune, services/commune_coverage.py)."""
    now = now or utcnow()
    tallies = {commune_id: Tally(communes=1) for commune_id in commune_ids}
    if not tallies:
        return tallies
    ids = sorted(tallies)
    for commune_id, counts in registry_counts(session, ids, now).items():
        for name, value in counts.items():
            setattr(tallies[commune_id], name, value)
    if coverage:
        for commune_id, figures in coverage_figures(session, ids, now).items():
            _count_coverage(tallies[commune_id], figures)

    opened_in_period = and_(
        FootageRequest.commune_id.in_(ids),
        FootageRequest.routed_at >= period.start,
        FootageRequest.routed_at < period.end,
    )
    assignment_states: dict[int, set[AssignmentStatus]] = {}
    for request_id, state in session.execute(
        select(Assignment.request_id, Assignment.status)
        .join(FootageRequest, Assignment.request_id == FootageRequest.id)
        .where(opened_in_period)
        .distinct()
    ):
        assignment_states.setdefault(request_id, set()).add(state)
    for request_id, commune_id, status, routed_at, closed_at, lenses_routed in session.execute(
        select(
            FootageRequest.id,
            FootageRequest.commune_id,
            FootageRequest.status,
            FootageRequest.routed_at,
            FootageRequest.closed_at,
            FootageRequest.lenses_routed,
        ).where(opened_in_period)
    ):
        tally = tallies[commune_id]
        tally.requests_opened += 1
        outcome = request_outcome(status, assignment_states.get(request_id, ()))
        setattr(tally, OUTCOME_FIELDS[outcome], getattr(tally, OUTCOME_FIELDS[outcome]) + 1)
        if status == RequestStatus.RESOLVED:
            tally.requests_resolved += 1
            if lenses_routed:  # one resolved at routing, with no one to ask, took no time worth measuring
                tally.hours_to_resolution.append((closed_at - routed_at).total_seconds() / 3600)

    answered = Assignment.answered_at.is_not(None)
    for commune_id, answers, consents, expired in session.execute(
        select(
            FootageRequest.commune_id,
            func.sum(case((answered, 1), else_=0)),
            func.sum(case((and_(answered, Assignment.status.not_in(REFUSALS)), 1), else_=0)),
            func.sum(case((Assignment.status == AssignmentStatus.EXPIRED, 1), else_=0)),
        )
        .join(FootageRequest, Assignment.request_id == FootageRequest.id)
        .where(opened_in_period)
        .group_by(FootageRequest.commune_id)
    ):
        tally = tallies[commune_id]
        tally.assignments_answered, tally.assignments_consented, tally.assignments_expired = answers, consents, expired
    return tallies


def _count_coverage(tally: Tally, figures: CoverageFigures) -> None:
    tally.area_km2, tally.seen_km2, tally.shared_seen_km2 = figures.area_km2, figures.seen_km2, figures.shared_seen_km2
    if figures.road_km:  # a road layer that crosses the commune; else its road figures stay empty
        tally.road_km, tally.road_seen_km = figures.road_km, figures.road_seen_km
        tally.road_shared_seen_km = figures.road_shared_seen_km
    tally.coverage_stale, tally.coverage_computed_at = figures.stale, figures.computed_at
