"""Footage requests ("yêu cầu trích xuất dữ liệu camera") and their per-owner assignments.

State lives in enums with explicit transition tables: a change is legal only
if (state, action) is in the table. Each row carries a version counter so a
concurrent change is refused rather than lost.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

from geoalchemy2 import Geometry
from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .admin_unit import AdminUnit
from .base import WGS84, Base, UtcDateTime, enum_column, utcnow
from .owner import Owner
from .recorder import Lens, Recorder
from .user import User


class RequestStatus(enum.Enum):
    DRAFT = "draft"
    OPEN = "open"
    ROUTED = "routed"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class AssignmentStatus(enum.Enum):
    PENDING = "pending"
    NOTIFIED = "notified"
    VIEWED = "viewed"
    CONSENTED = "consented"
    DECLINED = "declined"
    NO_FOOTAGE = "no_footage"
    FOOTAGE_RECEIVED = "footage_received"
    CLOSED = "closed"
    EXPIRED = "expired"


R, A = RequestStatus, AssignmentStatus

#: (state, action) -> new state, for requests.
REQUEST_TRANSITIONS: dict[tuple[RequestStatus, str], RequestStatus] = {
    (R.DRAFT, "open"): R.OPEN,
    (R.OPEN, "route"): R.ROUTED,
    (R.ROUTED, "start"): R.IN_PROGRESS,
    (R.ROUTED, "resolve"): R.RESOLVED,
    (R.IN_PROGRESS, "resolve"): R.RESOLVED,
    **{(state, "cancel"): R.CANCELLED for state in (R.DRAFT, R.OPEN, R.ROUTED, R.IN_PROGRESS)},
    **{(state, "expire"): R.EXPIRED for state in (R.OPEN, R.ROUTED, R.IN_PROGRESS)},
}

#: Not answered yet: the owner may still answer, and the clock may expire the assignment.
UNANSWERED = (A.PENDING, A.NOTIFIED, A.VIEWED)
#: What an owner may answer (in this order on the owner's page), and the state each answer leads to.
OWNER_ANSWERS: dict[str, AssignmentStatus] = {
    "consent": A.CONSENTED,
    "decline": A.DECLINED,
    "report_no_footage": A.NO_FOOTAGE,
}

#: (state, action) -> new state, for assignments.
ASSIGNMENT_TRANSITIONS: dict[tuple[AssignmentStatus, str], AssignmentStatus] = {
    (A.PENDING, "notify"): A.NOTIFIED,
    (A.PENDING, "view"): A.VIEWED,
    (A.NOTIFIED, "view"): A.VIEWED,
    **{(state, action): target for action, target in OWNER_ANSWERS.items() for state in UNANSWERED},
    **{(state, "expire"): A.EXPIRED for state in UNANSWERED},
    (A.CONSENTED, "receive_footage"): A.FOOTAGE_RECEIVED,
    (A.FOOTAGE_RECEIVED, "close"): A.CLOSED,
    # Cancelling the request withdraws what is still open.
    **{(state, "withdraw"): A.CLOSED for state in (*UNANSWERED, A.CONSENTED)},
}


def allowed_actions(table: dict, state) -> list[str]:
    return sorted({action for (from_state, action) in table if from_state == state})


def states_allowing(table: dict, *actions: str) -> frozenset:
    """The states from which one of `actions` is a legal transition."""
    return frozenset(state for (state, action) in table if action in actions)


def states_reached_by(table: dict, *actions: str) -> frozenset:
    """The states one of `actions` leads to."""
    return frozenset(target for (_, action), target in table.items() if action in actions)


# The state sets the services rely on, read off the tables so that a change to a table carries them along.

#: Requests that are over: no action leads anywhere from them.
FINAL_REQUEST_STATES = frozenset(RequestStatus) - {state for (state, _) in REQUEST_TRANSITIONS}
#: Requests still under way: the clock expires them when their deadline passes.
LIVE_REQUEST_STATES = states_allowing(REQUEST_TRANSITIONS, "expire")
#: Assignments still open: they wait for an answer or for footage, and cancelling the request withdraws them.
OPEN_ASSIGNMENT_STATES = states_allowing(ASSIGNMENT_TRANSITIONS, "withdraw")
#: States after which an assignment needs nothing more for its request to resolve.
FINAL_ASSIGNMENT_STATES = frozenset(AssignmentStatus) - OPEN_ASSIGNMENT_STATES
#: Asked (a message went out, or the owner opened the link) and not yet answered: whom reminders go to.
AWAITING_ANSWER = states_reached_by(ASSIGNMENT_TRANSITIONS, "notify", "view")
#: How an assignment ended, for its request's outcome, by the actions leading there (withdrawing leads to CLOSED
#: too, but only cancelling a request withdraws, and a cancelled request has no outcome).
OUTCOME_STATES: dict[str, frozenset[AssignmentStatus]] = {
    "footage_received": states_reached_by(ASSIGNMENT_TRANSITIONS, "receive_footage", "close"),
    "declined": states_reached_by(ASSIGNMENT_TRANSITIONS, "decline"),
    "no_footage": states_reached_by(ASSIGNMENT_TRANSITIONS, "report_no_footage"),
    "expired": states_reached_by(ASSIGNMENT_TRANSITIONS, "expire"),
}
#: An owner answered: consenting, declining or reporting no footage leads here (or on, to footage received).
OWNER_ANSWERED_STATES = states_reached_by(ASSIGNMENT_TRANSITIONS, *OWNER_ANSWERS)


class RequestOutcome(enum.StrEnum):
    """How a request ended, told truthfully: its status says only that it is over, its assignments say how."""

    OPEN = "open"  # still under way
    RESOLVED_WITH_FOOTAGE = "resolved_with_footage"  # footage came from at least one owner
    RESOLVED_WITHOUT_FOOTAGE = "resolved_without_footage"  # owners answered (declined, no footage), or no one to ask
    EXPIRED_UNANSWERED = "expired_unanswered"  # asked, and no owner answered in time
    CANCELLED = "cancelled"  # the police withdrew it


def request_outcome(status: RequestStatus, assignment_states: Iterable[AssignmentStatus]) -> RequestOutcome:
    """The one rule for a request's outcome, from its status and its assignments' states (the figures' SQL
    reads those states and classifies them here too)."""
    if status == RequestStatus.CANCELLED:
        return RequestOutcome.CANCELLED
    if status not in FINAL_REQUEST_STATES:
        return RequestOutcome.OPEN
    states = set(assignment_states)
    if states & OUTCOME_STATES["footage_received"]:
        return RequestOutcome.RESOLVED_WITH_FOOTAGE
    if not states or states & OWNER_ANSWERED_STATES:
        return RequestOutcome.RESOLVED_WITHOUT_FOOTAGE
    return RequestOutcome.EXPIRED_UNANSWERED


class FootageRequest(Base):
    __tablename__ = "footage_requests"
    __table_args__ = (
        CheckConstraint("window_end > window_start", name="window_order"),
        CheckConstraint("radius_m > 0 AND radius_m <= 2000", name="radius_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    case_ref: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(500))
    incident = mapped_column(Geometry("GEOMETRY", srid=WGS84, spatial_index=True), nullable=False)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    window_end: Mapped[datetime] = mapped_column(UtcDateTime())
    radius_m: Mapped[float] = mapped_column(Float)
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus), default=RequestStatus.DRAFT, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    routed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lenses_considered: Mapped[int] = mapped_column(Integer, default=0)
    lenses_routed: Mapped[int] = mapped_column(Integer, default=0)
    #: Lenses within the radius that were not routed, by reason (inactive, out_of_view, overwritten).
    lenses_skipped: Mapped[dict] = mapped_column(JSON, default=dict)
    #: A timed route's times at its vertices, speed range and margin (services/route_timing.py), kept so that a
    #: draft is routed with them when opened; null for an untimed incident.
    route_timing: Mapped[dict | None] = mapped_column(JSON)

    commune: Mapped[AdminUnit] = relationship()
    created_by: Mapped[User | None] = relationship()
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="request", order_by="Assignment.rank", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def outcome(self) -> RequestOutcome:
        return request_outcome(self.status, (assignment.status for assignment in self.assignments))


class Handover(enum.Enum):
    POLICE_COPY = "police_copy"
    OWNER_UPLOAD = "owner_upload"


class Assignment(Base):
    """The part of a request routed to one owner ("phiếu gửi chủ camera")."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("footage_requests.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    status: Mapped[AssignmentStatus] = mapped_column(
        enum_column(AssignmentStatus), default=AssignmentStatus.PENDING, index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    preservation_deadline: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    distance_m: Mapped[float] = mapped_column(Float)
    covered_by_commitment: Mapped[bool] = mapped_column(Boolean)
    handover: Mapped[Handover | None] = mapped_column(enum_column(Handover))
    answer_note: Mapped[str | None] = mapped_column(Text)
    evidence_ref: Mapped[str | None] = mapped_column(String(200))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Kept by the scheduler so its jobs are idempotent: one reminder per cadence, at most MAX_REMINDERS, one
    # escalation.
    reminder_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    request: Mapped[FootageRequest] = relationship(back_populates="assignments")
    owner: Mapped[Owner] = relationship()
    lenses: Mapped[list[AssignmentLens]] = relationship(
        back_populates="assignment", order_by="AssignmentLens.distance_m", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def window_start(self) -> datetime:
        """The start of the footage asked for: the earliest of its lenses' windows (a timed route narrows each)."""
        return min(item.asked_window[0] for item in self.lenses)

    @property
    def window_end(self) -> datetime:
        return max(item.asked_window[1] for item in self.lenses)

    @property
    def overwrite_deadline(self) -> datetime:
        """When the first of its recorders overwrites the footage asked for: what the owner keeps it until.
        `preservation_deadline` is earlier when the police's reply deadline is: that is when an answer is due."""
        return min(item.overwrite_deadline for item in self.lenses)

    @property
    def partially_overwritten(self) -> bool:
        return any(item.partially_overwritten for item in self.lenses)


class AssignmentLens(Base):
    """One lens an assignment asks about, with its distance and when its footage is lost."""

    __tablename__ = "assignment_lenses"

    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True)
    lens_id: Mapped[int] = mapped_column(ForeignKey("lenses.id"), primary_key=True, index=True)
    recorder_id: Mapped[int] = mapped_column(ForeignKey("recorders.id"))
    distance_m: Mapped[float] = mapped_column(Float)
    preservation_deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    partially_overwritten: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When a timed route put the target in this lens's view (margin included, within the request's window);
    #: null: the request's window (an untimed incident).
    window_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UtcDateTime())

    assignment: Mapped[Assignment] = relationship(back_populates="lenses")
    lens: Mapped[Lens] = relationship()
    recorder: Mapped[Recorder] = relationship()

    @property
    def overwrite_deadline(self) -> datetime:
        """When the recorder overwrites the footage asked for, by routing's rule without the reply deadline's cap:
        the window's start plus the retention, or its end once the start was already gone at routing."""
        start, end = self.asked_window
        return (end if self.partially_overwritten else start) + timedelta(days=self.recorder.retention_days)

    @property
    def asked_window(self) -> tuple[datetime, datetime]:
        """The footage asked of this lens: its own window on a timed route, else the request's."""
        if self.window_start is None:
            request = self.assignment.request
            return request.window_start, request.window_end
        return self.window_start, self.window_end
