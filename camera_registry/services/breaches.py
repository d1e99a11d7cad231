"""Personal data breach records, for administrators: record an incident, correct it, mark the notification to
A05 (the Ministry of Public Security's cybersecurity department) sent, close it, and the report an officer hands in.

Law 91/2025/QH15 and Decree 356/2025/NĐ-CP give the controller 72 hours from discovering a breach to notify
A05; a later notification must say why it is late. The clock is computed from a given `now`, never stored, so
the page, the export and the tests read it the same way. Every change goes through the transition table
(models/breach.py) and is audited in the same transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import after_read
from ..models import Breach, BreachDataCategory, Owner
from .access import Actor
from .audit import record
from .errors import NotFound, ValidationFailed
from .messages import field_refusal, refusal
from .workflow import transition_breach

#: From discovery to the notification to A05.
NOTIFICATION_WINDOW = timedelta(hours=72)
ENTITY = "breach"
CATEGORY_VALUES = [category.value for category in BreachDataCategory]


class ClockState(enum.Enum):
    #: Not notified yet, and the 72 hours not over.
    RUNNING = "running"
    #: Not notified yet, and the 72 hours over.
    OVERDUE = "overdue"
    NOTIFIED_IN_TIME = "notified_in_time"
    NOTIFIED_LATE = "notified_late"


@dataclass(frozen=True)
class NotificationClock:
    """The 72-hour clock of one record at a moment: its deadline and how much of it is left (negative: overdue)."""

    deadline: datetime
    state: ClockState
    #: deadline - now while not notified; deadline - notified_at once notified.
    left: timedelta

    @property
    def late(self) -> bool:
        return self.state in (ClockState.OVERDUE, ClockState.NOTIFIED_LATE)


def notification_clock(breach: Breach, now: datetime) -> NotificationClock:
    deadline = breach.discovered_at + NOTIFICATION_WINDOW
    if breach.notified_at is None:
        left = deadline - now
        return NotificationClock(deadline, ClockState.RUNNING if left >= timedelta(0) else ClockState.OVERDUE, left)
    left = deadline - breach.notified_at
    return NotificationClock(
        deadline, ClockState.NOTIFIED_IN_TIME if left >= timedelta(0) else ClockState.NOTIFIED_LATE, left
    )


@dataclass(frozen=True)
class Controller:
    """Who holds the data and answers for it: the deployment's controller, from its settings."""

    name: str
    contact: str


@dataclass(frozen=True)
class BreachReport:
    """What the notification to A05 says: the record, its clock, and who notifies."""

    breach: Breach
    clock: NotificationClock
    controller: Controller
    recorded_by: str


def _refused(field: str, reason) -> ValidationFailed:
    return ValidationFailed(field_refusal(field, reason), {field: [reason]})


def _affected_owners(session: Session, external_ids: Iterable[str]) -> list[Owner]:
    wanted = list(dict.fromkeys(external_ids))
    found = {owner.external_id: owner for owner in session.scalars(select(Owner).where(Owner.external_id.in_(wanted)))}
    for external_id in wanted:
        if external_id not in found:
            raise ValidationFailed.unknown("owners", "owner", external_id)
    return [found[external_id] for external_id in wanted]


def _checked_facts(session: Session, facts: dict, now: datetime) -> dict:
    """The record's facts as stored, or the first rule they break (ValidationFailed naming the field)."""
    description = facts["description"].strip()
    if not description:
        raise _refused("description", refusal("say what happened"))
    if facts["discovered_at"] > now:
        raise _refused("discovered_at", refusal("cannot be in the future"))
    occurred_at = facts.get("occurred_at")
    if occurred_at is not None and occurred_at > facts["discovered_at"]:
        raise _refused("occurred_at", refusal("must not be after discovered_at"))
    categories = list(dict.fromkeys(facts["data_categories"]))
    if not categories:
        raise _refused("data_categories", refusal("choose at least one kind of personal data"))
    for category in categories:
        if category not in CATEGORY_VALUES:
            raise _refused("data_categories", refusal("unknown kind of personal data %(value)s", value=category))
    owners = _affected_owners(session, facts.get("owners") or ())
    affected_description = (facts.get("affected_description") or "").strip() or None
    if not owners and affected_description is None:
        raise _refused("affected_description", refusal("name the owners or describe whose data it was"))
    affected_count = facts.get("affected_count")
    if affected_count is not None and affected_count < len(owners):
        raise _refused("affected_count", refusal("must be at least the %(count)s owners listed", count=len(owners)))
    return {
        "description": description,
        "discovered_at": facts["discovered_at"],
        "occurred_at": occurred_at,
        "data_categories": categories,
        "owners": owners,
        "affected_description": affected_description,
        "affected_count": affected_count if affected_count is not None else (len(owners) or None),
        "likely_consequences": (facts.get("likely_consequences") or "").strip() or None,
        "measures": (facts.get("measures") or "").strip() or None,
    }


def _details(facts: dict) -> dict:
    """What the audit trail keeps of a record's checked facts: no owner's name, only their ids."""
    return {
        "discovered_at": facts["discovered_at"].isoformat(),
        "occurred_at": facts["occurred_at"].isoformat() if facts["occurred_at"] else None,
        "data_categories": facts["data_categories"],
        "owner_ids": [owner.id for owner in facts["owners"]],
        "affected_count": facts["affected_count"],
    }


def record_breach(session: Session, actor: Actor, facts: dict, *, now: datetime) -> Breach:
    """Record an incident. `facts`: description, discovered_at, data_categories, and optionally occurred_at,
    owners (external ids), affected_description, affected_count, likely_consequences, measures."""
    actor.require_admin()
    checked = _checked_facts(session, facts, now)
    breach = Breach(recorded_by_id=actor.user_id, recorded_at=now, **checked)
    session.add(breach)
    session.flush()
    record(session, actor, "breach.record", ENTITY, breach.id, to_state=breach.status.value, details=_details(checked))
    return breach


def get_breach(session: Session, actor: Actor, breach_id: int) -> Breach:
    actor.require_admin()
    breach = session.get(Breach, breach_id)
    if breach is None:
        raise NotFound.of(ENTITY, breach_id)
    return breach


def list_breaches(session: Session, actor: Actor) -> list[Breach]:
    """Every record, the open ones first, then the latest discovered first."""
    actor.require_admin()
    return list(session.scalars(select(Breach).order_by(Breach.closed_at.is_not(None), Breach.discovered_at.desc())))


def update_breach(
    session: Session, actor: Actor, breach_id: int, facts: dict, *, expected_version: int | None, now: datetime
) -> Breach:
    """Correct a record's facts (what was learnt since) until it is closed."""
    breach = get_breach(session, actor, breach_id)
    checked = _checked_facts(session, facts, now)
    transition_breach(
        session, actor, breach, "update", expected_version=expected_version, details=_details(checked), changes=checked
    )
    return breach


def mark_notified(
    session: Session,
    actor: Actor,
    breach_id: int,
    *,
    notified_at: datetime,
    reference: str | None,
    late_reason: str | None,
    expected_version: int | None,
    now: datetime,
) -> Breach:
    """Record that the notification went to A05; one sent after the 72 hours needs the reason it is late."""
    breach = get_breach(session, actor, breach_id)
    if notified_at > now:
        raise _refused("notified_at", refusal("cannot be in the future"))
    if notified_at < breach.discovered_at:
        raise _refused("notified_at", refusal("must not be before discovered_at"))
    late_reason = (late_reason or "").strip() or None
    if notified_at > breach.discovered_at + NOTIFICATION_WINDOW and late_reason is None:
        raise _refused("late_reason", refusal("the notification came after 72 hours: say why"))
    changes = {
        "notified_at": notified_at,
        "notification_reference": (reference or "").strip() or None,
        "late_reason": late_reason,
    }
    transition_breach(session, actor, breach, "notify", expected_version=expected_version, changes=changes)
    return breach


def close_breach(
    session: Session, actor: Actor, breach_id: int, *, expected_version: int | None, now: datetime
) -> Breach:
    """Settle a notified record once the measures taken are written down."""
    breach = get_breach(session, actor, breach_id)
    if breach.measures is None:
        raise _refused("measures", refusal("write down the measures taken before closing the record"))
    changes = {"closed_at": now}
    transition_breach(session, actor, breach, "close", expected_version=expected_version, changes=changes)
    return breach


def breach_report(
    session: Session, actor: Actor, breach_id: int, *, controller: Controller, now: datetime
) -> BreachReport:
    """The notification to A05 for one record; handing it out is audited (after the read, when it is one)."""
    breach = get_breach(session, actor, breach_id)
    after_read(session, lambda writer: record(writer, actor, "breach.report", ENTITY, breach_id))
    recorded_by = breach.recorded_by.full_name or breach.recorded_by.username
    return BreachReport(breach, notification_clock(breach, now), controller, recorded_by)
