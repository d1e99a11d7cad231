"""Footage requests: commune police open one for an incident; it is routed at once.

Opening, routing and the first transitions happen in one transaction: a
request is never left half-routed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..db import new_ids
from ..geo.metric import area_km2, metres_between
from ..models import (
    OPEN_ASSIGNMENT_STATES,
    WGS84,
    AdminUnit,
    Assignment,
    AssignmentLens,
    AssignmentStatus,
    ConsentChannel,
    FootageClip,
    FootageRequest,
    Handover,
    Lens,
    Owner,
    Recorder,
    RequestStatus,
    Role,
)
from ..models.base import utcnow
from .access import Actor
from .audit import record
from .consents import record_footage_consent
from .errors import NotFound, PermissionDenied, ValidationFailed
from .listing import Page, readable
from .messages import domain_term, field_refusal, record_name, refusal
from .notifications import announce_routed_request
from .route_timing import (
    DEFAULT_MARGIN_MINUTES,
    DEFAULT_MAX_SPEED_KMH,
    DEFAULT_MIN_SPEED_KMH,
    MAX_MARGIN_MINUTES,
    MAX_SPEED_KMH,
    RouteTiming,
)
from .routing import RoutingPlan, plan_routing
from .wording import message_language
from .workflow import outcome, transition_assignment, transition_request

DEFAULT_RADIUS_M = 150
MAX_RADIUS_M = 2000
MAX_WINDOW = timedelta(days=7)
#: The largest area an area request may draw (AREA_REQUEST_MAX_KM2): wider, it would ask a whole ward's owners.
AREA_REQUEST_MAX_KM2 = 0.5
SHA256_HEX_LENGTH = 64


def _refuse(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed(field_refusal(field, reason), {field: [reason]})


def _check_request(
    session: Session,
    actor: Actor,
    incident: BaseGeometry,
    window_start: datetime,
    window_end: datetime,
    radius_m: float,
    deadline: datetime | None,
    now: datetime,
    max_area_km2: float,
) -> AdminUnit:
    """The officer's commune, once every rule on the new request holds."""
    if actor.role != Role.COMMUNE_POLICE or actor.unit_id is None:
        raise PermissionDenied(refusal("footage requests are filed by commune police"))
    if not isinstance(incident, (Point, LineString, Polygon)):
        raise _refuse(
            "incident", refusal("must be a GeoJSON Point, a LineString (the route taken) or a Polygon (an area)")
        )
    if isinstance(incident, Polygon):
        _check_area(incident, max_area_km2)
    if window_end <= window_start:
        raise _refuse("window_end", refusal("must be after %(other)s", other=domain_term("window_start")))
    if window_end > now:
        raise _refuse("window_end", refusal("is in the future: request footage of what has already happened"))
    if window_end - window_start > MAX_WINDOW:
        raise _refuse("window_end", refusal("the window may span at most %(days)s days", days=MAX_WINDOW.days))
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise _refuse("radius_m", refusal("must be above 0 and at most %(most)s metres", most=MAX_RADIUS_M))
    if deadline is not None and deadline <= now:
        raise _refuse("deadline", refusal("must be in the future"))
    commune = session.get(AdminUnit, actor.unit_id)
    if commune.boundary is not None:
        boundary = to_shape(commune.boundary)
        if not boundary.intersects(incident) and metres_between(incident, boundary) > radius_m:
            raise _refuse(
                "incident",
                refusal(
                    "lies outside %(commune)s and farther than radius_m (%(radius)s m) from it",
                    commune=commune.name,
                    radius=f"{radius_m:g}",
                ),
            )
    return commune


def _check_area(area: Polygon, max_area_km2: float) -> None:
    """An area request's polygon: one outline (the schema has checked that it is valid), bounded in size."""
    if area.interiors:
        raise _refuse("incident", refusal("an area may not have holes: draw its outline only"))
    size = area_km2(area)
    if size > max_area_km2:
        raise _refuse(
            "incident",
            refusal(
                "the area is %(area)s km², more than the %(most)s km² an area request may cover",
                area=f"{size:.2f}",
                most=f"{max_area_km2:g}",
            ),
        )


def _route_timing(
    incident: BaseGeometry,
    route_times: list[datetime | None] | None,
    speed_kmh: dict | None,
    margin_minutes: float | None,
    window_start: datetime,
    window_end: datetime,
) -> RouteTiming | None:
    """A timed route's timing once its rules hold; None for an untimed incident."""
    if route_times is None:
        for field, given in (("speed_kmh", speed_kmh), ("margin_minutes", margin_minutes)):
            if given is not None:
                raise _refuse(field, refusal("only applies to a timed route: give route_times too"))
        return None
    if not isinstance(incident, LineString):
        raise _refuse("route_times", refusal("only a route (a LineString incident) has times at its points"))
    vertices = len(incident.coords)
    if len(route_times) != vertices:
        raise _refuse(
            "route_times",
            refusal(
                "has %(given)s times for the route's %(vertices)s points: give one per point, null where unknown",
                given=len(route_times),
                vertices=vertices,
            ),
        )
    known = [t for t in route_times if t is not None]
    if len(known) < 2:
        raise _refuse("route_times", refusal("give the times of at least two points of the route"))
    if any(later <= earlier for earlier, later in zip(known, known[1:])):
        raise _refuse("route_times", refusal("each time must be later than the one before it along the route"))
    if known[0] < window_start or known[-1] > window_end:
        raise _refuse(
            "route_times", refusal("must lie within the window, from %(other)s", other=domain_term("window_start"))
        )
    speed = {"min": DEFAULT_MIN_SPEED_KMH, "max": DEFAULT_MAX_SPEED_KMH, **(speed_kmh or {})}
    if not 0 < speed["min"] <= speed["max"] <= MAX_SPEED_KMH:
        raise _refuse(
            "speed_kmh",
            refusal("min must be above 0 and at most max, and max at most %(most)s km/h", most=f"{MAX_SPEED_KMH:g}"),
        )
    margin = DEFAULT_MARGIN_MINUTES if margin_minutes is None else margin_minutes
    if not 0 <= margin <= MAX_MARGIN_MINUTES:
        raise _refuse("margin_minutes", refusal("must be from 0 to %(most)s minutes", most=f"{MAX_MARGIN_MINUTES:g}"))
    return RouteTiming(tuple(route_times), speed["min"], speed["max"], margin)


def open_request(
    session: Session,
    actor: Actor,
    *,
    case_ref: str,
    reason: str,
    legal_basis: str,
    incident: BaseGeometry,
    window_start: datetime,
    window_end: datetime,
    radius_m: float = DEFAULT_RADIUS_M,
    deadline: datetime | None = None,
    draft: bool = False,
    public_base_url: str,
    max_area_km2: float = AREA_REQUEST_MAX_KM2,
    route_times: list[datetime | None] | None = None,
    speed_kmh: dict | None = None,
    margin_minutes: float | None = None,
    now: datetime | None = None,
) -> FootageRequest:
    """File a request; unless kept as a draft it is opened, routed and announced in the same transaction.

    The incident is a point, a route (LineString) or an area (Polygon) of at most `max_area_km2`. A route may
    be timed: `route_times` parallel to its points (None where unknown), with a speed range (`speed_kmh`
    min/max) and a margin; each lens is then asked only for when the target could have been in its view."""
    now = now or utcnow()
    commune = _check_request(session, actor, incident, window_start, window_end, radius_m, deadline, now, max_area_km2)
    timing = _route_timing(incident, route_times, speed_kmh, margin_minutes, window_start, window_end)
    request = FootageRequest(
        commune=commune,
        created_by_id=actor.user_id,
        case_ref=case_ref,
        reason=reason,
        legal_basis=legal_basis,
        incident=from_shape(incident, srid=WGS84),
        window_start=window_start,
        window_end=window_end,
        radius_m=radius_m,
        deadline=deadline,
        status=RequestStatus.DRAFT,
        lenses_skipped={},
        route_timing=None if timing is None else timing.stored(),
    )
    session.add(request)
    session.flush()
    record(
        session,
        actor,
        "request.create",
        "request",
        request.id,
        to_state=RequestStatus.DRAFT.value,
        details={"case_ref": case_ref, "radius_m": radius_m},
    )
    if not draft:
        submit_request(session, actor, request, public_base_url=public_base_url, now=now)
    return request


def _routed_rows(session: Session, plan: RoutingPlan) -> tuple[dict[int, Owner], dict[int, Lens], dict[int, Recorder]]:
    """The owners, lenses and recorders a plan routes to, a query each: announcing each owner's message and
    answering with the assignments read them, and loading them one by one cost a query per owner and per lens."""
    routed = [lens for route in plan.routes for lens in route.lenses]

    def by_id(model, ids) -> dict:
        return {row.id: row for row in session.scalars(select(model).where(model.id.in_(sorted(set(ids)))))}

    return (
        by_id(Owner, [route.owner_id for route in plan.routes]),
        by_id(Lens, [lens.lens_id for lens in routed]),
        by_id(Recorder, [lens.recorder_id for lens in routed]),
    )


def _store_routes(session: Session, request: FootageRequest, plan: RoutingPlan) -> None:
    """One assignment per owner route, and its lenses, written with one INSERT for each table (the assignments'
    ids taken first), then read back and joined to the owners, lenses and recorders already loaded: the request
    then holds them as if the ORM had flushed them, which for a route's hundreds of objects cost more CPU than
    routing did (cascades, history, a unit of work)."""
    owners, lenses, recorders = _routed_rows(session, plan)
    ids = new_ids(session, Assignment.__table__, len(plan.routes))
    if not ids:
        set_committed_value(request, "assignments", [])
        return
    session.execute(
        insert(Assignment.__table__),
        [
            {
                "id": assignment_id,
                "request_id": request.id,
                "owner_id": route.owner_id,
                "rank": rank,
                "status": AssignmentStatus.PENDING,
                "version": 1,
                "reminder_count": 0,
                "preservation_deadline": route.preservation_deadline,
                "distance_m": route.distance_m,
                "covered_by_commitment": route.covered_by_commitment,
            }
            for rank, (assignment_id, route) in enumerate(zip(ids, plan.routes), start=1)
        ],
    )
    session.execute(
        insert(AssignmentLens.__table__),
        [
            {
                "assignment_id": assignment_id,
                "lens_id": lens.lens_id,
                "recorder_id": lens.recorder_id,
                "distance_m": lens.distance_m,
                "preservation_deadline": lens.preservation_deadline,
                "partially_overwritten": lens.partially_overwritten,
                "window_start": lens.window_start,
                "window_end": lens.window_end,
            }
            for assignment_id, route in zip(ids, plan.routes)
            for lens in route.lenses
        ],
    )
    assignments = session.scalars(
        select(Assignment).where(Assignment.request_id == request.id).order_by(Assignment.rank)
    ).all()
    items: dict[int, list[AssignmentLens]] = {assignment.id: [] for assignment in assignments}
    for item in session.scalars(
        select(AssignmentLens)
        .join(Assignment)
        .where(Assignment.request_id == request.id)
        .order_by(AssignmentLens.assignment_id, AssignmentLens.distance_m, AssignmentLens.lens_id)
    ):
        items[item.assignment_id].append(item)
    for assignment in assignments:
        set_committed_value(assignment, "request", request)
        set_committed_value(assignment, "owner", owners[assignment.owner_id])
        set_committed_value(assignment, "lenses", items[assignment.id])
        for item in items[assignment.id]:
            set_committed_value(item, "assignment", assignment)
            set_committed_value(item, "lens", lenses[item.lens_id])
            set_committed_value(item, "recorder", recorders[item.recorder_id])
    set_committed_value(request, "assignments", list(assignments))


def submit_request(
    session: Session,
    actor: Actor,
    request: FootageRequest,
    *,
    public_base_url: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> FootageRequest:
    """Open a draft and route it: one assignment per owner whose lenses could have seen the incident.

    Each owner's message (with a link under `public_base_url`) is written to
    the outbox in the same transaction, so routing and announcing commit or
    roll back together.
    """
    now = now or utcnow()
    transition_request(session, actor, request, "open", expected_version=expected_version)
    plan = plan_routing(
        session,
        to_shape(request.incident),
        request.radius_m,
        request.window_start,
        request.window_end,
        now,
        request.deadline,
        None if request.route_timing is None else RouteTiming.restored(request.route_timing),
    )
    _store_routes(session, request, plan)
    request.lenses_considered = plan.considered
    request.lenses_routed = plan.routed
    request.lenses_skipped = dict(plan.skipped)
    request.routed_at = now
    transition_request(
        session,
        actor,
        request,
        "route",
        details={"owners": len(plan.routes), "lenses_routed": plan.routed, "skipped": dict(plan.skipped)},
    )
    announce_routed_request(session, request, public_base_url)
    if not request.assignments:
        transition_request(
            session, actor, request, "resolve", note="no lens could have seen the incident", details=outcome(request)
        )
    return request


@dataclass(frozen=True)
class RequestLine:
    """A request as the police list shows it, with the next overwrite deadline to beat."""

    request: FootageRequest
    next_deadline: datetime | None
    open_assignments: int


def list_requests(
    session: Session, actor: Actor, *, status: RequestStatus | None = None, page: int = 1, page_size: int = 50
) -> Page[RequestLine]:
    """Requests in reach, the most urgent first (earliest open preservation deadline), then newest."""
    pending = (
        select(
            Assignment.request_id,
            func.min(Assignment.preservation_deadline).label("next_deadline"),
            func.count(Assignment.id).label("open_assignments"),
        )
        .where(Assignment.status.in_(OPEN_ASSIGNMENT_STATES))
        .group_by(Assignment.request_id)
        .subquery()
    )
    statement = (
        select(FootageRequest, pending.c.next_deadline, pending.c.open_assignments)
        .join(pending, pending.c.request_id == FootageRequest.id, isouter=True)
        .where(readable(actor, FootageRequest.commune_id))
    )
    if status is not None:
        statement = statement.where(FootageRequest.status == status)
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = session.execute(
        statement.order_by(pending.c.next_deadline.is_(None), pending.c.next_deadline, FootageRequest.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return Page([RequestLine(row[0], row[1], row[2] or 0) for row in rows], total)


def get_request(session: Session, actor: Actor, request_id: int) -> FootageRequest:
    request = session.scalar(
        select(FootageRequest)
        .where(FootageRequest.id == request_id)
        .options(
            selectinload(FootageRequest.assignments).selectinload(Assignment.lenses).selectinload(AssignmentLens.lens),
            selectinload(FootageRequest.assignments).selectinload(Assignment.owner),
        )
    )
    if request is None or not actor.can_read(request.commune_id):
        raise NotFound.of("footage request", request_id)
    return request


def _writable_request(session: Session, actor: Actor, request_id: int) -> FootageRequest:
    request = get_request(session, actor, request_id)
    actor.require_write(request.commune_id, record_name("footage request", request_id))
    return request


def open_draft(
    session: Session, actor: Actor, request_id: int, *, public_base_url: str, expected_version: int | None = None
) -> FootageRequest:
    return submit_request(
        session,
        actor,
        _writable_request(session, actor, request_id),
        public_base_url=public_base_url,
        expected_version=expected_version,
    )


def cancel_request(
    session: Session, actor: Actor, request_id: int, *, expected_version: int | None = None, note: str | None = None
) -> FootageRequest:
    """Cancel, withdrawing every assignment that still waits for an answer or for footage."""
    request = _writable_request(session, actor, request_id)
    transition_request(session, actor, request, "cancel", expected_version=expected_version, note=note)
    for assignment in request.assignments:
        if assignment.status in OPEN_ASSIGNMENT_STATES:
            transition_assignment(session, actor, assignment, "withdraw", note="request cancelled")
    return request


def act_on_assignment(
    session: Session,
    actor: Actor,
    assignment_id: int,
    action: str,
    *,
    request_id: int | None = None,
    consent_channel: ConsentChannel | None = None,
    **step,
) -> Assignment:
    """Record what an owner answered (by phone, to the police) or what the police did next, once the actor's
    reach allows it; `step` holds the keywords of `apply_assignment_action` (version, note, evidence).
    A consent gets its consent record, by `consent_channel` (by phone unless told: on site, on paper).

    A caller that names the request too (the pages' URLs do) finds only that request's assignments."""
    assignment = session.get(Assignment, assignment_id)
    if (
        assignment is None
        or not actor.can_read(assignment.request.commune_id)
        or (request_id is not None and assignment.request_id != request_id)
    ):
        raise NotFound.of("assignment", assignment_id)
    actor.require_write(assignment.request.commune_id, record_name("assignment", assignment_id))
    apply_assignment_action(session, actor, assignment, action, **step)
    if action == "consent":
        language = message_language(assignment.owner.language)
        record_footage_consent(
            session, assignment, language, assignment.answered_at, consent_channel or ConsentChannel.PHONE, actor=actor
        )
    return assignment


def apply_assignment_action(
    session: Session,
    actor: Actor,
    assignment: Assignment,
    action: str,
    *,
    expected_version: int | None = None,
    note: str | None = None,
    handover: Handover | None = None,
    evidence_ref: str | None = None,
    evidence_sha256: str | None = None,
    clip_id: int | None = None,
) -> Assignment:
    """The answer or step itself, with no reach check: the caller has settled that `actor` may act on this
    assignment (police of its commune, or the owner through the assignment's link).

    Footage received names the stored clip (`clip_id`): its hash, taken when it was uploaded, becomes the
    evidence's; nobody types it. Only an assignment with no stored clip (a copy kept outside the service)
    may still give `evidence_ref` and `evidence_sha256` by hand, through the API."""
    if action == "consent":
        assignment.handover = handover or Handover.POLICE_COPY
    if action == "receive_footage":
        if clip_id is not None:
            clip = session.get(FootageClip, clip_id)
            if clip is None or clip.assignment_id != assignment.id or clip.deleted_at is not None:
                raise _refuse("clip_id", refusal("is not a stored clip of this assignment"))
            if evidence_sha256 and evidence_sha256.strip().lower() != clip.sha256:
                raise _refuse("evidence_sha256", refusal("differs from the stored clip's SHA-256; leave it out"))
            evidence_ref, evidence_sha256 = evidence_ref or f"clip:{clip.id}", clip.sha256
        elif session.scalar(select(func.count(FootageClip.id)).where(FootageClip.assignment_id == assignment.id)):
            raise _refuse("clip_id", refusal("name the stored clip that was received: the evidence's hash is its hash"))
        if not evidence_ref:
            raise _refuse("evidence_ref", refusal("is required: where the copy is kept (exhibit number, storage path)"))
        digest = (evidence_sha256 or "").strip().lower()
        if len(digest) != SHA256_HEX_LENGTH or any(c not in "0123456789abcdef" for c in digest):
            raise _refuse("evidence_sha256", refusal("must be the 64 hexadecimal characters of the copy's SHA-256"))
        assignment.evidence_ref, assignment.evidence_sha256 = evidence_ref, digest
    if note:
        assignment.answer_note = note
    return transition_assignment(session, actor, assignment, action, expected_version=expected_version, note=note)
