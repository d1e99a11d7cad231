"""Every state change of a request or an assignment goes through here.

A change is legal only if (state, action) is in the model's transition table;
the caller may name the version it saw, and a mismatch is refused (409)
instead of overwriting someone else's change; each transition writes an
AuditEvent in the same transaction.

Concurrency: a transition first locks the row it changes (SELECT ... FOR
UPDATE on PostgreSQL; on SQLite the write unit already holds the database's
write lock) and reads its stored version. If another transaction changed the
row since this one read it, the change is refused with StaleVersion carrying
what is stored now (`current`: version and status), before anything is
flushed, so the session stays usable and the caller rolls back cleanly. An
assignment's request is locked first (request, then assignment: one order
everywhere, so two transactions cannot deadlock), which applies the answers to
one request one at a time and lets the last of them resolve it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..models import (
    ASSIGNMENT_TRANSITIONS,
    BREACH_TRANSITIONS,
    FINAL_ASSIGNMENT_STATES,
    FINAL_REQUEST_STATES,
    OUTCOME_STATES,
    OWNER_ANSWERS,
    REQUEST_TRANSITIONS,
    SUBJECT_REQUEST_TRANSITIONS,
    Assignment,
    AssignmentStatus,
    Breach,
    FootageRequest,
    RequestStatus,
    SubjectRequest,
    allowed_actions,
)
from ..models.base import utcnow
from .access import Actor
from .audit import record
from .errors import Conflict
from .messages import domain_term, joined, record_name, refusal


class StateConflict(Conflict):
    """A clash with what is stored; `current` says what that is now (e.g. {"version": 3, "status": "declined"}),
    when it is known, so the caller can show it or retry from it."""

    def __init__(self, message: str, errors: dict | None = None, current: dict[str, Any] | None = None):
        super().__init__(message, errors)
        self.current = current or {}


class IllegalTransition(StateConflict):
    code = "illegal_transition"


class StaleVersion(StateConflict):
    code = "stale_version"


def locked_row(session: Session, model, row_id: int, *columns) -> Any:
    """Lock one row for the rest of the transaction and read `columns` as stored, without flushing pending changes.

    FOR UPDATE waits for a transaction that holds the row and then returns what
    it committed (PostgreSQL); SQLite ignores it, its write unit holding the lock.
    """
    with session.no_autoflush:
        return session.execute(select(*columns).where(model.id == row_id).with_for_update()).one()


def flush_versioned(session: Session, entity_type: str, entity_id: int | None) -> None:
    """Flush; a versioned row that another writer changed meanwhile is StaleVersion (409), never a crash."""
    try:
        session.flush()
    except StaleDataError:
        # Not reached while the row is locked (`locked_row`, records.get_writable); kept so a missed lock still
        # answers 409.
        raise StaleVersion(
            refusal(
                "%(record)s was changed at the same moment by someone else; reload it",
                record=record_name(entity_type, entity_id),
            ),
            {"version": [refusal("changed concurrently")]},
        ) from None


def _stale(entity_type: str, entity_id: int, message: str, version: int | None, status=None) -> StaleVersion:
    current = {"version": version, **({"status": status.value} if status is not None else {})}
    return StaleVersion(
        refusal(
            "%(record)s %(what)s; reload it and try again", record=record_name(entity_type, entity_id), what=message
        ),
        {"version": [refusal("stale: current version is %(version)s", version=version)]},
        current=current,
    )


def _changed_since_read(seen_version: int, state, version: int):
    return refusal(
        "was changed by someone else since it was read (version %(seen)s); it is now %(status)s at version %(version)s",
        seen=seen_version,
        status=domain_term(state.value),
        version=version,
    )


def _not_allowed_while(state):
    return refusal("not allowed while %(status)s", status=domain_term(state.value))


def _apply(
    session: Session,
    actor: Actor,
    obj,
    table: dict,
    action: str,
    entity_type: str,
    expected_version: int | None,
    note: str | None,
    details: dict | None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Check and make one transition (with `changes`, set in the same write: one version bump), then audit it."""
    # Everything the refusals say is read now: after a failed flush the object may not be read again.
    model, entity_id, seen_version = type(obj), obj.id, obj.version
    stored_state, stored_version = locked_row(session, model, entity_id, model.status, model.version)
    if stored_version != seen_version:
        raise _stale(
            entity_type,
            entity_id,
            _changed_since_read(seen_version, stored_state, stored_version),
            stored_version,
            stored_state,
        )
    if expected_version is not None and expected_version != stored_version:
        raise _stale(
            entity_type,
            entity_id,
            refusal(
                "was changed by someone else: it is %(status)s at version %(version)s, you sent %(sent)s",
                status=domain_term(stored_state.value),
                version=stored_version,
                sent=expected_version,
            ),
            stored_version,
            stored_state,
        )
    state = obj.status
    target = table.get((state, action))
    if target is None:
        allowed = allowed_actions(table, state)
        raise IllegalTransition(
            refusal(
                "cannot %(action)s a %(what)s that is %(status)s; allowed now: %(allowed)s",
                action=domain_term(action),
                what=domain_term(entity_type),
                status=domain_term(state.value),
                allowed=joined([domain_term(name) for name in allowed], ", ") if allowed else domain_term("nothing"),
            ),
            {"action": [_not_allowed_while(state)], "allowed_actions": allowed},
            current={"version": stored_version, "status": state.value},
        )
    obj.status = target
    for name, value in (changes or {}).items():
        setattr(obj, name, value)
    flush_versioned(session, entity_type, entity_id)
    record(
        session,
        actor,
        f"{entity_type}.{action}",
        entity_type,
        entity_id,
        from_state=state.value,
        to_state=target.value,
        note=note,
        details=details,
    )


def _catch_up(session: Session, request: FootageRequest, acting: Assignment) -> None:
    """Lock the request and reload what other transactions changed since it was read: its state, and the
    states of its other assignments, which decide whether this answer is the last one."""
    (stored_version,) = locked_row(session, FootageRequest, request.id, FootageRequest.version)
    with session.no_autoflush:
        if stored_version != request.version:
            session.refresh(request, [attribute.key for attribute in FootageRequest.__mapper__.column_attrs])
        stored = dict(
            session.execute(select(Assignment.id, Assignment.version).where(Assignment.request_id == request.id)).all()
        )
        for sibling in request.assignments:
            if sibling is not acting and stored.get(sibling.id, sibling.version) != sibling.version:
                session.refresh(sibling)


def transition_request(
    session: Session,
    actor: Actor,
    request: FootageRequest,
    action: str,
    *,
    expected_version: int | None = None,
    note: str | None = None,
    details: dict | None = None,
) -> FootageRequest:
    closes = REQUEST_TRANSITIONS.get((request.status, action)) in FINAL_REQUEST_STATES
    closing = {"closed_at": utcnow()} if closes else None
    _apply(session, actor, request, REQUEST_TRANSITIONS, action, "request", expected_version, note, details, closing)
    return request


def transition_breach(
    session: Session,
    actor: Actor,
    breach: Breach,
    action: str,
    *,
    expected_version: int | None = None,
    details: dict | None = None,
    changes: dict[str, Any] | None = None,
) -> Breach:
    """Move a breach record (services/breaches.py says what each step records besides)."""
    _apply(session, actor, breach, BREACH_TRANSITIONS, action, "breach", expected_version, None, details, changes)
    return breach


def transition_subject_request(
    session: Session,
    actor: Actor,
    subject_request: SubjectRequest,
    action: str,
    *,
    expected_version: int | None = None,
    note: str | None = None,
    details: dict | None = None,
    changes: dict[str, Any] | None = None,
) -> SubjectRequest:
    """Move a data-subject request (services/subject_requests.py says what each step does besides)."""
    _apply(
        session,
        actor,
        subject_request,
        SUBJECT_REQUEST_TRANSITIONS,
        action,
        "subject_request",
        expected_version,
        note,
        details,
        changes,
    )
    return subject_request


def transition_assignment(
    session: Session,
    actor: Actor,
    assignment: Assignment,
    action: str,
    *,
    expected_version: int | None = None,
    note: str | None = None,
    details: dict | None = None,
    now: datetime | None = None,
) -> Assignment:
    """Move one assignment, then carry its request along: started on the first answer, resolved on the last."""
    request = assignment.request
    _catch_up(session, request, assignment)
    answered = {"answered_at": now or utcnow()} if action in OWNER_ANSWERS else None
    _apply(
        session,
        actor,
        assignment,
        ASSIGNMENT_TRANSITIONS,
        action,
        "assignment",
        expected_version,
        note,
        details,
        answered,
    )
    if request.status == RequestStatus.ROUTED and action != "notify":
        transition_request(session, actor, request, "start")
    if request.status == RequestStatus.IN_PROGRESS and all_final(request):
        transition_request(session, actor, request, "resolve", details=outcome(request))
    return assignment


def transition_assignments(
    session: Session,
    actor: Actor,
    request: FootageRequest,
    assignments: list[Assignment],
    action: str,
    details: dict[int, dict],
) -> None:
    """Make one transition that leaves the request where it is (`notify`) on many of its assignments at once.

    What `transition_assignment` does for one, with one lock of the request and one of all the rows instead
    of three queries and a flush each, and one UPDATE per target state instead of one per row (the ORM writes a
    versioned row by itself): a freshly routed request announces hundreds of owners together.
    `details` holds each assignment's audit details by its id.
    """
    if not assignments:
        return
    _catch_up(session, request, assignments[0])
    with session.no_autoflush:
        stored = {
            row.id: row
            for row in session.execute(
                select(Assignment.id, Assignment.status, Assignment.version)
                .where(Assignment.id.in_([assignment.id for assignment in assignments]))
                .with_for_update()
            )
        }
    moves = []
    for assignment in assignments:
        row = stored[assignment.id]
        if row.version != assignment.version:
            raise _stale(
                "assignment",
                assignment.id,
                _changed_since_read(assignment.version, row.status, row.version),
                row.version,
                row.status,
            )
        target = ASSIGNMENT_TRANSITIONS.get((assignment.status, action))
        if target is None:
            raise IllegalTransition(
                refusal(
                    "cannot %(action)s an assignment that is %(status)s",
                    action=domain_term(action),
                    status=domain_term(assignment.status.value),
                ),
                {"action": [_not_allowed_while(assignment.status)]},
                current={"version": row.version, "status": assignment.status.value},
            )
        moves.append((assignment, assignment.status, target))
    by_target: dict[AssignmentStatus, list[Assignment]] = defaultdict(list)
    for assignment, _, target in moves:
        by_target[target].append(assignment)
    for target, moving in by_target.items():
        # The rows are locked and their versions checked above: the WHERE matches every one of them.
        session.execute(
            update(Assignment)
            .where(Assignment.id.in_([assignment.id for assignment in moving]))
            .values(status=target, version=Assignment.version + 1)
            .execution_options(synchronize_session=False)
        )
        for assignment in moving:
            set_committed_value(assignment, "status", target)
            set_committed_value(assignment, "version", assignment.version + 1)
    for assignment, state, target in moves:
        record(
            session,
            actor,
            f"assignment.{action}",
            "assignment",
            assignment.id,
            from_state=state.value,
            to_state=target.value,
            details=details.get(assignment.id),
        )


def all_final(request: FootageRequest) -> bool:
    return all(assignment.status in FINAL_ASSIGNMENT_STATES for assignment in request.assignments)


def outcome(request: FootageRequest) -> dict[str, int]:
    """How the request's assignments ended (or stand): footage received, declined, no footage, expired."""
    counts = Counter(assignment.status for assignment in request.assignments)
    return {name: sum(counts[state] for state in states) for name, states in OUTCOME_STATES.items()}
