"""The routing rule (DESIGN.md §5): which lenses could have seen an incident, one route per owner.

Pure planning: nothing is written here. The footage-request workflow stores
a plan as a request with one assignment per owner route.
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..geo.sectors import LensView, sight
from ..geo.spatial import nearby_lenses
from ..models import LensStatus, Recorder, RecorderStatus
from .commitments import shared_recorder_ids
from .errors import ValidationFailed
from .messages import refusal
from .route_timing import RouteTiming, lens_windows

#: A place, a route taken, or an area (one polygon, no holes): routing meets each with the same rule.
INCIDENT_KINDS = ("Point", "LineString", "Polygon")


class SkipReason(enum.StrEnum):
    """Why a lens within the radius gets no request, checked in this order."""

    INACTIVE = "inactive"  # the lens or its recorder is not active: it recorded nothing
    OUT_OF_VIEW = "out_of_view"  # the incident misses its sector, or a timed route passed it outside the window
    OVERWRITTEN = "overwritten"  # it may have seen the incident, but the whole window is gone


@dataclass(frozen=True)
class RoutedLens:
    lens_id: int
    recorder_id: int
    owner_id: int
    distance_m: float
    preservation_deadline: datetime
    partially_overwritten: bool
    # A timed route's: when the target could have been in view (None: the request's window).
    window_start: datetime | None = None
    window_end: datetime | None = None


@dataclass(frozen=True)
class OwnerRoute:
    """One owner's share of a request: the future assignment."""

    owner_id: int
    lenses: tuple[RoutedLens, ...]  # nearest first
    preservation_deadline: datetime  # the earliest of its lenses'
    distance_m: float  # the nearest of its lenses
    covered_by_commitment: bool  # an active commitment covers every recorder involved: preserve, no consent asked


@dataclass(frozen=True)
class RoutingPlan:
    """What routing found; `considered` == `routed` + the `skipped` counts, all counting lenses."""

    considered: int  # lenses within the radius
    routes: tuple[OwnerRoute, ...]  # most urgent first
    skipped: dict[SkipReason, int]  # every reason, zeros included

    @property
    def routed(self) -> int:
        """Lenses routed to their owners."""
        return sum(len(route.lenses) for route in self.routes)


def _preservation(
    retention_days: int, window_start: datetime, window_end: datetime, now: datetime, deadline: datetime | None
) -> tuple[datetime, bool] | None:
    """When the footage of the window must be saved by, and whether part of it is gone; None when all is.

    Footage at t survives until t + retention. Normally the deadline is when
    the window's start is overwritten. Once that has passed, what remains is
    still worth asking for, so the deadline becomes the window's end + retention
    and the lens is marked partially overwritten. The request's own deadline caps both.
    """
    retention = timedelta(days=retention_days)
    if now > window_end + retention:
        return None
    partially_overwritten = now > window_start + retention
    lens_deadline = window_end + retention if partially_overwritten else window_start + retention
    if deadline is not None:
        lens_deadline = min(lens_deadline, deadline)
    return lens_deadline, partially_overwritten


def plan_routing(
    session: Session,
    incident: BaseGeometry,
    radius_m: float,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    deadline: datetime | None = None,
    timing: RouteTiming | None = None,
) -> RoutingPlan:
    """The lenses that could have seen `incident` in the window, grouped into owner routes.

    Candidates come from one index-backed radius query, their recorders from
    one more; the sector test runs in Python. Inputs are the caller's to
    validate, except the incident's kind, which the geometry needs. With the
    `timing` of a route, each lens is asked only for when the target could have
    been in its view (services/route_timing.py), and its deadlines follow that window.
    """
    if incident.is_empty or incident.geom_type not in INCIDENT_KINDS:
        raise ValidationFailed(
            refusal("an incident is a Point, a LineString or a Polygon, not %(kind)s", kind=incident.geom_type),
            {"incident": [refusal("must be a Point, a LineString or a Polygon")]},
        )
    nearby = nearby_lenses(session, incident, radius_m)
    recorders = {
        recorder.id: recorder
        for recorder in session.scalars(
            select(Recorder).where(Recorder.id.in_(sorted({lens.recorder_id for lens in nearby})))
        )
    }

    skipped: Counter[SkipReason] = Counter(dict.fromkeys(SkipReason, 0))
    active = []
    for lens in nearby:
        if lens.status == LensStatus.ACTIVE and recorders[lens.recorder_id].status == RecorderStatus.ACTIVE:
            active.append(lens)
        else:
            skipped[SkipReason.INACTIVE] += 1

    views = [LensView(lens.lon, lens.lat, lens.bearing_deg, lens.fov_deg, lens.range_m) for lens in active]
    seen = [sighting.in_view for sighting in sight(incident, views)]
    windows = [None] * len(active)
    if timing is not None:
        timed = [i for i, in_view in enumerate(seen) if in_view]
        found = lens_windows(incident, timing, [views[i] for i in timed], radius_m, window_start, window_end)
        for i, lens_found in zip(timed, found):
            seen[i] = bool(lens_found)
            windows[i] = (lens_found[0][0], lens_found[-1][1]) if lens_found else None
    routed = []
    for lens, in_view, window in zip(active, seen, windows):
        recorder = recorders[lens.recorder_id]
        saved = _preservation(recorder.retention_days, *(window or (window_start, window_end)), now, deadline)
        if not in_view:
            skipped[SkipReason.OUT_OF_VIEW] += 1
        elif saved is None:
            skipped[SkipReason.OVERWRITTEN] += 1
        else:
            routed.append(
                RoutedLens(lens.id, recorder.id, recorder.owner_id, lens.distance_m, *saved, *(window or (None, None)))
            )

    return RoutingPlan(considered=len(nearby), routes=_owner_routes(session, routed, now), skipped=dict(skipped))


def _owner_routes(session: Session, routed: list[RoutedLens], now: datetime) -> tuple[OwnerRoute, ...]:
    """One route per owner, earliest deadline first, then nearest, then by owner id."""
    shared = shared_recorder_ids(session, sorted({lens.recorder_id for lens in routed}), now)
    by_owner: dict[int, list[RoutedLens]] = defaultdict(list)
    for lens in routed:
        by_owner[lens.owner_id].append(lens)
    routes = []
    for owner_id, lenses in by_owner.items():
        lenses.sort(key=lambda lens: (lens.distance_m, lens.lens_id))
        routes.append(
            OwnerRoute(
                owner_id=owner_id,
                lenses=tuple(lenses),
                preservation_deadline=min(lens.preservation_deadline for lens in lenses),
                distance_m=lenses[0].distance_m,
                covered_by_commitment=all(lens.recorder_id in shared for lens in lenses),
            )
        )
    routes.sort(key=lambda route: (route.preservation_deadline, route.distance_m, route.owner_id))
    return tuple(routes)
