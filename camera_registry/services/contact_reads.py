"""Who read owners' contact data, for administrators: one line per owner and disclosure, from the audit trail
(`owner.contacts_read`, written each time a page or the API showed contacts; see services.owners).

An event names its owners in its details (a JSON list that neither database indexes the same way), so the
events of the period are read in one query, newest first, and the owners and readers each in one more; the
filters and the page are applied to the lines those give.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import AdminLevel, AdminUnit, AuditEvent, Owner, User
from .access import Actor
from .errors import ValidationFailed
from .listing import Page
from .messages import refusal
from .records import unit_on
from .stats import Period, period_of_days
from .timeline import Who, who_did

ACTION = "owner.contacts_read"


@dataclass(frozen=True)
class ContactRead:
    at: datetime
    who: Who
    owner_id: int
    owner_name: str
    commune_name: str | None
    seen_on: str | None  # request_page, map, owners_api, place_search; None for reads audited before it was
    request_id: int | None  # the request whose page showed them


@dataclass(frozen=True)
class ContactReads:
    period: Period
    lines: Page[ContactRead]


def contact_reads(
    session: Session,
    actor: Actor,
    *,
    first: date | None = None,
    end: date | None = None,
    commune_code: str | None = None,
    owner_id: int | None = None,
    page: int = 1,
    page_size: int = 50,
) -> ContactReads:
    """The disclosures of owners' contacts over the days [first, end) (the last 30 days by default), of the
    owners of one commune or one owner when asked; administrators only."""
    actor.require_admin()
    period = period_of_days(first, end)
    commune_id = None
    if commune_code is not None:
        unit = unit_on(session, commune_code)  # the version in force: the owners' communes moved to it
        commune_id = unit.id if unit is not None and unit.level == AdminLevel.COMMUNE else None
        if commune_id is None:
            reason = refusal("no commune %(code)s", code=commune_code)
            raise ValidationFailed(reason, {"commune": [reason]})
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == ACTION, AuditEvent.occurred_at >= period.start, AuditEvent.occurred_at < period.end)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    ).all()
    read_ids = {owner for event in events for owner in (event.details or {}).get("owner_ids", [])}
    wanted = select(Owner.id, Owner.name, AdminUnit.name).join(AdminUnit, isouter=True).where(Owner.id.in_(read_ids))
    if commune_id is not None:
        wanted = wanted.where(Owner.commune_id == commune_id)
    if owner_id is not None:
        wanted = wanted.where(Owner.id == owner_id)
    owners = {row[0]: row[1:] for row in session.execute(wanted)}
    users = {
        user.id: user
        for user in session.scalars(select(User).where(User.id.in_({event.actor_user_id for event in events} - {None})))
    }
    lines = [
        ContactRead(
            event.occurred_at,
            who_did(event, users),
            read,
            *owners[read],
            event.details.get("seen_on"),
            int(event.entity_id) if event.entity_type == "request" else None,
        )
        for event in events
        for read in event.details.get("owner_ids", [])
        if read in owners
    ]
    start = (page - 1) * page_size
    return ContactReads(period, Page(lines[start : start + page_size], len(lines)))
