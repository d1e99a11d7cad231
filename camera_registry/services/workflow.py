"""Every state change of a request or an assignment goes through here.

A change is legal only if (state, action) is in the model's transition table;
the caller may name the version it saw, and a mismatch is refused (409)
instead of overwriting someone else's change; each transition writes an
AuditEvent in the same transaction.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..models import (
    ASSIGNMENT_TRANSITIONS, FINAL_ASSIGNMENT_STATES, REQUEST_TRANSITIONS, Assignment, AssignmentStatus, FootageRequest,
    RequestStatus, allowed_actions,
)
from ..models.base import utcnow
from .access import Actor
from .audit import record
from .errors import Conflict

OUTCOME_STATES = {
    "footage_received": {AssignmentStatus.FOOTAGE_RECEIVED, AssignmentStatus.CLOSED},
    "declined": {AssignmentStatus.DECLINED},
    "no_footage": {AssignmentStatus.NO_FOOTAGE},
    "expired": {AssignmentStatus.EXPIRED},
}


class IllegalTransition(Conflict):
    code = "illegal_transition"


class StaleVersion(Conflict):
    code = "stale_version"


def _apply(session: Session, actor: Actor, obj, table: dict, action: str, entity_type: str,
           expected_version: int | None, note: str | None, details: dict | None) -> None:
    state = obj.status
    if expected_version is not None and expected_version != obj.version:
        raise StaleVersion(
            f"{entity_type} {obj.id} was changed by someone else: it is at version {obj.version}, you sent "
            f"{expected_version}; reload it and try again",
            {"version": [f"stale: current version is {obj.version}"]},
        )
    target = table.get((state, action))
    if target is None:
        allowed = allowed_actions(table, state)
        raise IllegalTransition(
            f"cannot {action} a {entity_type} that is {state.value}; allowed now: {', '.join(allowed) or 'nothing'}",
            {"action": [f"not allowed while {state.value}"], "allowed_actions": allowed},
        )
    obj.status = target
    try:
        session.flush()
    except StaleDataError:
        raise StaleVersion(f"{entity_type} {obj.id} was changed at the same moment by someone else; reload it",
                           {"version": ["changed concurrently"]}) from None
    record(session, actor, f"{entity_type}.{action}", entity_type, obj.id, from_state=state.value,
           to_state=target.value, note=note, details=details)


def transition_request(session: Session, actor: Actor, request: FootageRequest, action: str, *,
                       expected_version: int | None = None, note: str | None = None,
                       details: dict | None = None) -> FootageRequest:
    _apply(session, actor, request, REQUEST_TRANSITIONS, action, "request", expected_version, note, details)
    if request.status in (RequestStatus.RESOLVED, RequestStatus.CANCELLED, RequestStatus.EXPIRED):
        request.closed_at = utcnow()
    return request


def transition_assignment(session: Session, actor: Actor, assignment: Assignment, action: str, *,
                          expected_version: int | None = None, note: str | None = None,
                          details: dict | None = None, now: datetime | None = None) -> Assignment:
    """Move one assignment, then carry its request along: started on the first answer, resolved on the last."""
    _apply(session, actor, assignment, ASSIGNMENT_TRANSITIONS, action, "assignment", expected_version, note, details)
    if action in ("consent", "decline", "report_no_footage"):
        assignment.answered_at = now or utcnow()
    request = assignment.request
    if request.status == RequestStatus.ROUTED and action != "notify":
        transition_request(session, actor, request, "start")
    if request.status == RequestStatus.IN_PROGRESS and all_final(request):
        transition_request(session, actor, request, "resolve", details=outcome(request))
    return assignment


def all_final(request: FootageRequest) -> bool:
    return all(assignment.status in FINAL_ASSIGNMENT_STATES for assignment in request.assignments)


def outcome(request: FootageRequest) -> dict[str, int]:
    """How the request's assignments ended (or stand): footage received, declined, no footage, expired."""
    counts = Counter(assignment.status for assignment in request.assignments)
    return {name: sum(counts[state] for state in states) for name, states in OUTCOME_STATES.items()}
